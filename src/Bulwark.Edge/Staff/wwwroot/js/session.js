// The staff session, shared by the console and the ops view: the login form (email, password and
// the authenticator app's code), the staff token kept for this browser tab only (sessionStorage),
// and who is signed in (GET /staff/api/me).

import { api, setToken, onSessionEnded } from './api.js';
import { $, h, showError } from './dom.js';

const KEY = 'bulwark-staff-token';

/** Resolves with the signed-in member ({ staffId, name, roles, source, ... }) once there is one. */
export async function signIn() {
  onSessionEnded(() => signOut('Your session ended; sign in again.'));
  const saved = sessionStorage.getItem(KEY);
  if (saved) {
    setToken(saved);
    try {
      return await showSignedIn(await api('GET', '/staff/api/me'));
    } catch {
      sessionStorage.removeItem(KEY);
      setToken(null);
    }
  }
  return new Promise((resolve) => {
    renderLogin();
    $('login').hidden = false;
    $('login-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      showError($('login-error'), null);
      $('login-submit').disabled = true;
      try {
        const session = await api('POST', '/staff/api/login', {
          body: { email: $('login-email').value, password: $('login-password').value, totp: $('login-totp').value.trim() },
        });
        sessionStorage.setItem(KEY, session.token);
        setToken(session.token);
        $('login').hidden = true;
        $('login-password').value = '';
        $('login-totp').value = '';
        resolve(showSignedIn(await api('GET', '/staff/api/me')));
      } catch (error) {
        showError($('login-error'), error);
      } finally {
        $('login-submit').disabled = false;
      }
    });
  });
}

export function signOut(message) {
  sessionStorage.removeItem(KEY);
  setToken(null);
  if (message) sessionStorage.setItem(`${KEY}-message`, message);
  location.reload();
}

// The page has <section id="login" class="login panel" hidden></section> and a top bar with
// <span id="who-bar" hidden></span>; this fills both.
function renderLogin() {
  const message = sessionStorage.getItem(`${KEY}-message`);
  sessionStorage.removeItem(`${KEY}-message`);
  $('login').replaceChildren(
    h('h1', {}, 'Bulwark staff sign-in'),
    h('form', { id: 'login-form', dataset: { testid: 'staff-login-form' }, novalidate: true },
      h('label', {}, 'Email', h('input', { id: 'login-email', dataset: { testid: 'staff-login-email' }, type: 'email', autocomplete: 'username', required: true, maxlength: 254 })),
      h('label', {}, 'Password', h('input', { id: 'login-password', dataset: { testid: 'staff-login-password' }, type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 })),
      h('label', {}, 'Code from your authenticator app', h('input', { id: 'login-totp', dataset: { testid: 'staff-login-totp' }, inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]*', required: true, maxlength: 10 })),
      h('p', { class: 'error', id: 'login-error', dataset: { testid: 'staff-login-error' }, role: 'alert', hidden: !message }, message || ''),
      h('button', { type: 'submit', class: 'primary', id: 'login-submit', dataset: { testid: 'staff-login-submit' } }, 'Sign in')));
}

function showSignedIn(me) {
  $('who-bar').replaceChildren(
    h('span', { id: 'who', dataset: { testid: 'staff-who' } }, `${me.name} · ${me.roles.join(', ')}`), ' ',
    h('button', { type: 'button', id: 'sign-out', dataset: { testid: 'staff-sign-out' }, onclick: () => signOut() }, 'Sign out'));
  $('who-bar').hidden = false;
  return me;
}

export const hasRole = (me, role) => me.roles.includes(role);
