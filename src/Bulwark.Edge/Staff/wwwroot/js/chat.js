// The console's chat panel: one customer's conversation, answered by the signed-in staff member.
// mountChat(container, customerId) renders into container and long-polls
// /staff/api/customers/{id}/chat (answered as soon as a message arrives, or empty after 25 s); the
// loop stops once the container has left the document. The first read (after=0) is what the staff
// edge audits as "chat.viewed". Texts go into the page through textContent (h), never as markup.
import { api, ApiError, newIdempotencyKey as newClientMessageId } from './api.js';
import { h, describeError as describe } from './dom.js';

/** Seconds a poll may wait on the server (the edge's EdgeLimits.HelpWaitSecondsMax). */
const WAIT_SECONDS = 25;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;
/** The support service's SupportLimits.ChatTextLengthMax. */
const TEXT_LENGTH_MAX = 2000;

const timeFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'short', timeStyle: 'short' });

/** Renders the conversation with customerId into container; returns { stop } to end it early. */
export function mountChat(container, customerId) {
  const base = `/staff/api/customers/${encodeURIComponent(customerId)}/chat`;
  const shown = new Map();
  let after = 0;
  let stopped = false;
  let pendingId = null;

  const list = h('ol', { class: 'chat-messages', dataset: { testid: 'chat-messages' }, 'aria-live': 'polite' });
  const empty = h('p', { class: 'muted', dataset: { testid: 'chat-empty' } }, 'No messages with this customer yet.');
  const error = h('p', { class: 'error', role: 'alert', dataset: { testid: 'chat-error' }, hidden: true });
  const input = h('textarea', {
    class: 'chat-input', rows: 2, maxlength: TEXT_LENGTH_MAX, placeholder: 'Answer the customer', 'aria-label': 'Message to the customer',
    dataset: { testid: 'chat-input' },
  });
  const send = h('button', { type: 'submit', class: 'button primary', dataset: { testid: 'chat-send' } }, 'Send');
  const form = h('form', { class: 'chat-form', novalidate: true }, input, send);
  const panel = h('section', { class: 'chat-panel', dataset: { testid: 'chat-panel', customerId } }, list, empty, error, form);
  container.replaceChildren(panel);

  const alive = () => !stopped && panel.isConnected;

  function showError(failure) {
    error.textContent = failure ? describe(failure) : '';
    error.hidden = !failure;
  }

  function render(messages) {
    for (const message of messages) {
      if (shown.has(message.sequence)) continue;
      const staff = message.author === 'staff';
      const view = h('li', {
        class: `chat-message ${staff ? 'from-staff' : 'from-customer'}`,
        dataset: { testid: 'chat-message', author: message.author, sequence: String(message.sequence) },
      },
      h('p', { class: 'chat-text' }, message.text),
      h('span', { class: 'chat-meta' }, `${staff ? (message.authorName || 'Staff') : 'Customer'} · ${timeFormat.format(new Date(message.sentAt))}`));
      shown.set(message.sequence, view);
      const later = [...shown.entries()].filter(([sequence]) => sequence > message.sequence).sort((a, b) => a[0] - b[0])[0];
      list.insertBefore(view, later ? later[1] : null);
    }
    empty.hidden = shown.size > 0;
    list.lastElementChild?.scrollIntoView({ block: 'end' });
  }

  async function poll() {
    let retry = RETRY_FIRST_MS;
    let wait = 0;
    while (alive()) {
      try {
        const data = await api('GET', `${base}?after=${after}&wait=${wait}`);
        if (!alive()) return;
        render(data.messages);
        after = data.nextAfter;
        retry = RETRY_FIRST_MS;
        showError(null);
        wait = data.more ? 0 : WAIT_SECONDS;
      } catch (failure) {
        if (!alive() || (failure instanceof ApiError && (failure.status === 401 || failure.status === 403))) {
          if (alive()) showError(failure);
          return;
        }
        showError(failure);
        await new Promise((resolve) => setTimeout(resolve, retry));
        retry = Math.min(retry * 2, RETRY_MAX_MS);
      }
    }
  }

  input.addEventListener('input', () => { pendingId = null; });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    showError(null);
    // Kept until the message is accepted: a retry after a failure can never post it twice.
    pendingId ??= newClientMessageId();
    try {
      const message = await api('POST', base, { body: { text, clientMessageId: pendingId } });
      pendingId = null;
      input.value = '';
      render([message]);
    } catch (failure) {
      showError(failure);
    } finally {
      send.disabled = false;
    }
  });

  poll();
  return { stop() { stopped = true; } };
}
