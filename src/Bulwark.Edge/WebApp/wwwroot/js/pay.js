// Pay someone: by UK sort code and account number, with an Idempotency-Key kept across retries.
import { $, h, showError } from './dom.js';
import { api, newIdempotencyKey } from './api.js';
import { money, parseAmount, sortCode } from './format.js';

let accounts = [];
let pendingKey = null;

export function init() {
  $('pay-form').addEventListener('submit', submit);
  // Changing the payment makes it a different payment: it gets a new key.
  $('pay-form').addEventListener('input', () => { pendingKey = null; });
}

export async function enter() {
  showError($('pay-error'), null);
  $('pay-result').hidden = true;
  try {
    const data = await api('GET', '/api/accounts');
    accounts = data.accounts;
    $('pay-from').replaceChildren(...accounts.map((account) =>
      h('option', { value: account.accountId },
        `${account.name} (${money(account.balance.available, account.balance.currency)})`)));
  } catch (error) {
    showError($('pay-error'), error);
  }
}

export function leave() {}

async function submit(event) {
  event.preventDefault();
  const error = $('pay-error');
  const result = $('pay-result');
  showError(error, null);
  result.hidden = true;
  const account = accounts.find((candidate) => candidate.accountId === $('pay-from').value);
  if (!account) {
    showError(error, { message: 'Choose the account to pay from.' });
    return;
  }
  const toSortCode = $('pay-sort-code').value.replace(/[\s-]/g, '');
  const toAccountNumber = $('pay-account-number').value.replace(/\s/g, '');
  const amount = parseAmount($('pay-amount').value, account.currency);
  if (!/^\d{6}$/.test(toSortCode)) return showError(error, { message: 'The sort code has 6 digits.' });
  if (!/^\d{8}$/.test(toAccountNumber)) return showError(error, { message: 'The account number has 8 digits.' });
  if (amount === null) return showError(error, { message: 'Enter an amount, like 25 or 25.50.' });

  pendingKey ??= newIdempotencyKey();
  const button = $('pay-submit');
  button.disabled = true;
  try {
    const movement = await api('POST', '/api/payments', {
      body: {
        fromAccountId: account.accountId,
        toSortCode,
        toAccountNumber,
        amount,
        currency: account.currency,
        reference: $('pay-reference').value.trim(),
      },
      idempotencyKey: pendingKey,
    });
    pendingKey = null;
    result.textContent = `Sent ${money(movement.amount, movement.currency)} to ${sortCode(toSortCode)} ${toAccountNumber}.`;
    result.hidden = false;
    $('pay-amount').value = '';
    $('pay-reference').value = '';
  } catch (failure) {
    if (failure.status >= 400 && failure.status < 500) pendingKey = null;
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}
