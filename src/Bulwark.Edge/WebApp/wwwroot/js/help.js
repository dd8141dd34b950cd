// Help: the customer's conversation with the bank. New messages arrive without reloading through a
// long-poll (GET /api/help/messages?after=N&wait=25 answers as soon as there is a message after N,
// or empty after 25 s). Every text goes into the page through textContent (h), never as markup.
import { $, h, showError } from './dom.js';
import { api, newIdempotencyKey } from './api.js';

/** Seconds a poll may wait on the server: the edge's limit (EdgeLimits.HelpWaitSecondsMax). */
const WAIT_SECONDS = 25;
/** After a failed poll, wait this long before the next, doubling up to the maximum (milliseconds). */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });

let after = 0;
let generation = 0;
let pendingKey = null;
const shown = new Map();

export function init() {
  $('help-form').addEventListener('submit', send);
  // Changing the text makes it a different message: it gets a new key.
  $('help-text').addEventListener('input', () => { pendingKey = null; });
  $('help-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      $('help-form').requestSubmit();
    }
  });
}

export function enter() {
  showError($('help-error'), null);
  poll(++generation);
  $('help-text').focus();
}

/** Stops the poll loop: an answer still in flight is dropped when it lands. */
export function leave() {
  generation++;
}

/** Forgets the conversation (logout): the next customer on this tab starts empty. */
export function reset() {
  generation++;
  after = 0;
  shown.clear();
  $('help-messages').replaceChildren();
}

async function poll(mine) {
  let retry = RETRY_FIRST_MS;
  let wait = 0;
  while (mine === generation) {
    try {
      const data = await api('GET', `/api/help/messages?after=${after}&wait=${wait}`);
      if (mine !== generation) return;
      render(data.messages);
      after = data.nextAfter;
      retry = RETRY_FIRST_MS;
      showError($('help-error'), null);
      // More than one page waiting: fetch the rest at once; otherwise wait for the next message.
      wait = data.more ? 0 : WAIT_SECONDS;
    } catch (error) {
      if (mine !== generation || error.status === 401) return;
      showError($('help-error'), error);
      await new Promise((resolve) => setTimeout(resolve, retry));
      retry = Math.min(retry * 2, RETRY_MAX_MS);
    }
  }
}

function render(messages) {
  const list = $('help-messages');
  for (const message of messages) {
    if (shown.has(message.sequence)) continue;
    const view = messageView(message);
    shown.set(message.sequence, view);
    // In sequence order, even when a sent message's answer came before an earlier message's poll.
    const later = [...shown.entries()].filter(([sequence]) => sequence > message.sequence).sort((a, b) => a[0] - b[0])[0];
    list.insertBefore(view, later ? later[1] : null);
  }
  $('help-empty').hidden = shown.size > 0;
  list.lastElementChild?.scrollIntoView({ block: 'end' });
}

function messageView(message) {
  const mine = message.author === 'customer';
  const who = mine ? 'You' : `${message.authorName || 'Bulwark'} · Bulwark`;
  return h('li', {
    class: `help-message ${mine ? 'from-customer' : 'from-staff'}`,
    dataset: { testid: 'help-message', author: message.author, sequence: String(message.sequence) },
  },
  h('p', { class: 'help-text' }, message.text),
  h('span', { class: 'help-meta' }, `${who} · ${timeFormat.format(new Date(message.sentAt))}`));
}

async function send(event) {
  event.preventDefault();
  const input = $('help-text');
  const text = input.value.trim();
  if (!text) return;
  const button = $('help-send');
  button.disabled = true;
  showError($('help-error'), null);
  pendingKey ??= newIdempotencyKey();
  try {
    const message = await api('POST', '/api/help/messages', { body: { text }, idempotencyKey: pendingKey });
    pendingKey = null;
    input.value = '';
    render([message]);
  } catch (error) {
    // The key is kept: sending again retries this message and can never post it twice.
    showError($('help-error'), error);
  } finally {
    button.disabled = false;
    input.focus();
  }
}
