// The Bulwark web app: a phone-banking single page. Hash routes (#/home, #/cards, #/pay, #/help) so the
// edge only serves files; the session token lives in sessionStorage for this tab only.
import { $, showError } from './dom.js';
import { api, setToken, onSessionEnded } from './api.js';
import * as home from './home.js';
import * as cards from './cards.js';
import * as pay from './pay.js';
import * as help from './help.js';
import { startStatusBanner } from './status.js';

const SESSION_KEY = 'bulwark.session';
const screens = { login: null, home, cards, pay, help };
let current = null;

function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (session?.token && Date.parse(session.expiresAt) > Date.now()) return session;
  } catch {
    // A damaged entry is treated as no session.
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

function startSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  setToken(session.token);
}

function endSession(message) {
  sessionStorage.removeItem(SESSION_KEY);
  setToken(null);
  home.reset();
  help.reset();
  showError($('login-error'), message ? { message } : null);
  location.hash = '#/login';
  route();
}

/** Revokes the token on the server as well, so a copy of it is useless; the session ends here whatever the answer. */
async function logout() {
  try {
    await api('POST', '/api/logout');
  } catch {
    // Offline or already expired: nothing more to revoke from here.
  }
  endSession(null);
}

function route() {
  const loggedIn = loadSession() !== null;
  let name = (location.hash.replace(/^#\/?/, '') || 'home').split('?')[0];
  if (!(name in screens)) name = 'home';
  if (!loggedIn) name = 'login';
  if (loggedIn && name === 'login') name = 'home';
  if (current === name) return;

  if (current && screens[current]) screens[current].leave();
  for (const key of Object.keys(screens)) $(`screen-${key}`).hidden = key !== name;
  $('tabbar').hidden = name === 'login';
  for (const link of document.querySelectorAll('.tabbar a')) {
    link.classList.toggle('active', link.dataset.tab === name);
  }
  current = name;
  if (screens[name]) screens[name].enter();
  else $('login-email').focus();
}

async function login(event) {
  event.preventDefault();
  const email = $('login-email').value.trim();
  const password = $('login-password').value;
  const error = $('login-error');
  if (!email || !password) {
    showError(error, { message: 'Enter your email and password.' });
    return;
  }
  const button = $('login-submit');
  button.disabled = true;
  showError(error, null);
  try {
    const session = await api('POST', '/api/login', { body: { email, password } });
    startSession(session);
    $('login-password').value = '';
    current = null;
    location.hash = '#/home';
    route();
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}

function boot() {
  const session = loadSession();
  if (session) setToken(session.token);
  onSessionEnded(() => endSession('Your session has ended. Please log in again.'));
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  home.init();
  cards.init();
  pay.init();
  help.init();
  startStatusBanner();
  window.addEventListener('hashchange', route);
  route();
}

boot();
