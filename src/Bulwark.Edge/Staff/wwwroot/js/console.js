// The customer-operations console (docs/guides/console.md): find a customer, see what they see,
// freeze a card, block an account, talk with them (chat.js), propose a goodwill credit or refund
// and decide others' proposals (approvals.js). Every search, view and action goes to the audit log
// with the reason given here; the staff API refuses one without it. Text is set through textContent only.

import { api } from './api.js';
import { $, h, describeError, toast } from './dom.js';
import { money } from './format.js';
import { signIn } from './session.js';
import { mountChat } from './chat.js';
import { mountApprovals, mountProposeCredit } from './approvals.js';

const me = await signIn();
const main = $('console');
main.hidden = false;
main.dataset.staff = me.staffId;

const results = h('div', { dataset: { testid: 'search-results' } });
const searchError = h('p', { class: 'error', role: 'alert', dataset: { testid: 'search-error' }, hidden: true });
const customerPanel = h('section', { class: 'panel', dataset: { testid: 'customer-view' }, hidden: true });
const approvalsPanel = h('div', {});
let reason = '';

main.append(searchPanel(), customerPanel, approvalsPanel);
const refreshApprovals = mountApprovals(approvalsPanel, me);
window.addEventListener('hashchange', route);
route();

function searchPanel() {
  const field = (name, label, attributes = {}) =>
    h('label', {}, label, h('input', { name, dataset: { testid: `search-${name}` }, autocomplete: 'off', ...attributes }));
  const reasonInput = h('input', { name: 'reason', dataset: { testid: 'view-reason' }, required: true, minlength: 3, maxlength: 500, size: 40,
    placeholder: 'e.g. chat about a declined card' });
  const form = h('form', { class: 'inline', dataset: { testid: 'search-form' }, novalidate: true },
    field('name', 'Name', { maxlength: 100 }),
    field('email', 'Email', { maxlength: 254 }),
    field('sortCode', 'Sort code', { maxlength: 8, inputmode: 'numeric', size: 8 }),
    field('accountNumber', 'Account number', { maxlength: 10, inputmode: 'numeric', size: 10 }),
    field('cardLastFour', 'Card last four', { maxlength: 4, inputmode: 'numeric', size: 4 }),
    h('button', { type: 'submit', class: 'primary', dataset: { testid: 'search-submit' } }, 'Find'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    searchError.hidden = true;
    const query = new URLSearchParams({ reason });
    for (const input of form.querySelectorAll('input:not([name=reason])')) {
      if (input.value.trim()) query.set(input.name, input.value.trim());
    }
    try {
      const found = await api('GET', `/staff/api/customers?${query}`);
      showResults(found);
    } catch (error) {
      results.replaceChildren();
      searchError.textContent = describeError(error);
      searchError.hidden = false;
    }
  });
  reasonInput.addEventListener('input', () => { reason = reasonInput.value.trim(); });
  return h('section', { class: 'panel' },
    h('h2', {}, 'Find a customer'),
    h('p', {}, h('label', {}, 'Why are you looking? (written to the audit log with every search, view and action)', reasonInput)),
    form,
    searchError,
    results);
}

function showResults({ customers, more }) {
  if (customers.length === 0) {
    results.replaceChildren(h('p', { class: 'muted', dataset: { testid: 'search-empty' } }, 'No customer matches.'));
    return;
  }
  const rows = customers.map((customer) => h('tr', {
    class: 'clickable', dataset: { testid: 'customer-row', customerId: customer.customerId },
    onclick: () => { location.hash = `#/customers/${customer.customerId}`; },
  }, h('td', {}, customer.name), h('td', {}, customer.email), h('td', { class: 'muted mono' }, customer.customerId)));
  results.replaceChildren(
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Email'), h('th', {}, 'Customer id'))), h('tbody', {}, rows)),
    more ? h('p', { class: 'warn' }, 'More customers match: narrow the search.') : '');
}

async function route() {
  const match = /^#\/customers\/([0-9a-f-]{36})$/i.exec(location.hash);
  if (!match) {
    customerPanel.hidden = true;
    return;
  }
  await showCustomer(match[1]);
}

async function showCustomer(customerId) {
  customerPanel.hidden = false;
  if (reason.length < 3) {
    customerPanel.replaceChildren(
      h('p', { class: 'error', role: 'alert', dataset: { testid: 'reason-needed' } }, 'Say why you are looking (at least three characters) above, then open the customer again.'));
    return;
  }
  customerPanel.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  let view;
  try {
    view = await api('GET', `/staff/api/customers/${customerId}?reason=${encodeURIComponent(reason)}`);
  } catch (error) {
    customerPanel.replaceChildren(h('p', { class: 'error', role: 'alert', dataset: { testid: 'customer-error' } }, describeError(error)));
    return;
  }
  renderCustomer(view);
}

function renderCustomer(view) {
  const { customer } = view;
  const accounts = h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Account'), h('th', {}, 'Sort code'), h('th', {}, 'Number'), h('th', { class: 'amount' }, 'Available'),
      h('th', { class: 'amount' }, 'Settled'), h('th', {}, 'State'), h('th', {}))),
    h('tbody', {}, view.accounts.map((account) => accountRow(customer.customerId, account))));
  const pots = view.pots.length === 0 ? h('p', { class: 'muted' }, 'No pots.') : h('table', {},
    h('tbody', {}, view.pots.map((pot) => h('tr', { dataset: { testid: 'pot-row' } },
      h('td', {}, pot.name), h('td', { class: 'amount' }, money(pot.balance.settled, pot.currency)),
      h('td', { class: 'muted' }, pot.goalAmount ? `goal ${money(pot.goalAmount, pot.currency)}` : '')))));
  const cards = view.cards.length === 0 ? h('p', { class: 'muted' }, 'No cards.') : h('table', {},
    h('tbody', {}, view.cards.map((card) => cardRow(customer.customerId, card))));
  let proposeForm;
  const feed = h('table', { dataset: { testid: 'feed' } },
    h('tbody', {}, view.feed.items.map((item) => h('tr', { dataset: { testid: 'feed-row' } },
      h('td', {}, new Date(item.timestamp).toLocaleString('en-GB')),
      h('td', {}, item.description),
      h('td', {}, h('span', { class: `badge ${item.state === 'settled' ? 'ok' : 'warn'}` }, item.state)),
      h('td', { class: 'amount' }, money(item.amount, item.currency, { plus: true })),
      h('td', {}, refundButton(item, () => proposeForm))))));
  const chat = h('div', { class: 'chat-column' }, h('h3', {}, 'Chat'));
  const propose = h('div', {});
  customerPanel.replaceChildren(
    h('h2', { dataset: { testid: 'customer-name' } }, customer.name),
    h('p', { class: 'muted' }, customer.email, ' · customer since ', new Date(customer.createdAt).toLocaleDateString('en-GB'),
      ' · audit entry ', h('span', { dataset: { testid: 'audit-sequence' } }, String(view.auditSequence))),
    h('div', { class: 'columns' },
      h('div', {}, h('h3', {}, 'Accounts'), accounts, h('h3', {}, 'Pots'), pots, h('h3', {}, 'Cards'), cards),
      h('div', {}, h('h3', {}, 'Feed'), view.feed.items.length === 0 ? h('p', { class: 'muted' }, 'Nothing yet.') : feed)),
    h('div', { class: 'columns' }, chat, propose));
  mountChat(chat, customer.customerId);
  proposeForm = mountProposeCredit(propose, { customerId: customer.customerId, name: customer.name, accounts: view.accounts },
    { onProposed: () => refreshApprovals?.() });
}

/** "Refund…" on a settled payment out: fills the proposal form with it (the accounts service checks it again with the ledger). */
function refundButton(item, form) {
  if (!(item.amount < 0 && item.state === 'settled')) return null;
  const button = h('button', { type: 'button', class: 'secondary', dataset: { testid: 'feed-refund', transferId: item.transferId } }, 'Refund…');
  button.addEventListener('click', () => form()?.prefillRefund(item));
  return button;
}

function accountRow(customerId, account) {
  const state = h('span', { class: `badge ${account.blocked ? 'error' : 'ok'}`, dataset: { testid: 'account-state' } }, account.blocked ? 'blocked' : 'open');
  const button = h('button', { type: 'button', class: account.blocked ? 'secondary' : 'danger', dataset: { testid: account.blocked ? 'account-unblock' : 'account-block' } },
    account.blocked ? 'Unblock' : 'Block');
  const row = h('tr', { dataset: { testid: 'account-row', accountId: account.accountId } },
    h('td', {}, account.name), h('td', { class: 'mono' }, account.sortCode), h('td', { class: 'mono' }, account.accountNumber),
    h('td', { class: 'amount', dataset: { testid: 'account-available' } }, money(account.balance.available, account.balance.currency)),
    h('td', { class: 'amount' }, money(account.balance.settled, account.balance.currency)),
    h('td', {}, state), h('td', {}, button));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const changed = await api('POST', `/staff/api/customers/${customerId}/accounts/${account.accountId}/${account.blocked ? 'unblock' : 'block'}`, { body: { reason } });
      row.replaceWith(accountRow(customerId, { ...account, blocked: changed.blocked }));
      toast(changed.blocked ? 'Account blocked: no money can leave it' : 'Account unblocked');
    } catch (error) {
      button.disabled = false;
      toast(describeError(error));
    }
  });
  return row;
}

function cardRow(customerId, card) {
  const state = h('span', { class: `badge ${card.frozen ? 'error' : 'ok'}`, dataset: { testid: 'card-state' } },
    card.frozenByStaff ? 'frozen' : card.frozen ? 'frozen by the customer' : 'active');
  const button = h('button', { type: 'button', class: card.frozen ? 'secondary' : 'danger', dataset: { testid: card.frozen ? 'card-unfreeze' : 'card-freeze' } },
    card.frozen ? 'Unfreeze' : 'Freeze');
  const row = h('tr', { dataset: { testid: 'card-row', cardId: card.cardId } },
    h('td', { class: 'mono' }, `•••• ${card.lastFour}`),
    h('td', {}, `${String(card.expiryMonth).padStart(2, '0')}/${card.expiryYear}`),
    h('td', {}, state),
    h('td', {}, button));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const changed = await api('POST', `/staff/api/customers/${customerId}/cards/${card.cardId}/${card.frozen ? 'unfreeze' : 'freeze'}`, { body: { reason } });
      row.replaceWith(cardRow(customerId, changed.card));
      toast(changed.card.frozen ? `Card •••• ${card.lastFour} frozen` : `Card •••• ${card.lastFour} unfrozen`);
    } catch (error) {
      button.disabled = false;
      toast(describeError(error));
    }
  });
  return row;
}
