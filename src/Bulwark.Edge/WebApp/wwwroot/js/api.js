// The app API client: JSON over fetch, the bearer token, problem documents as ApiError.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let token = null;
let onUnauthorized = () => {};

export function setToken(value) { token = value; }
export function onSessionEnded(callback) { onUnauthorized = callback; }

export async function api(method, path, { body, idempotencyKey } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, { title: 'You appear to be offline.', detail: 'Check your connection and try again.' });
  }
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    // A 401 with a token means the session ended (expired or revoked); a 401 at login is just a wrong password.
    if (response.status === 401 && token) onUnauthorized();
    throw new ApiError(response.status, data || { title: response.statusText || `HTTP ${response.status}` });
  }
  return data;
}

/** A fresh Idempotency-Key: 32 hex digits from the browser's secure random source. */
export function newIdempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
