// Maker-checker in the console (docs/concepts/staff-and-audit.md#approvals): a form to propose a
// goodwill credit or a refund for a customer, and the list of pending approvals with Approve and
// Refuse for operations staff. The staff edge decides who may do what (403 for a support member's
// approval, /problems/own-approval for one's own proposal); the page shows what it answers.

import { api, newIdempotencyKey } from './api.js';
import { h, describeError } from './dom.js';
import { fractionDigits, money, parseAmount } from './format.js';

const KINDS = [['goodwill_credit', 'Goodwill credit'], ['refund', 'Refund']];

/**
 * Mounts the proposal form for one customer: { customerId, name, accounts: [{ accountId, name,
 * currency }] } (a customer with a single accountId and currency works too). Resolves nothing;
 * calls onProposed(approval) after a proposal was accepted, when given.
 */
export function mountProposeCredit(container, customer, { onProposed } = {}) {
  const accounts = customer.accounts?.length
    ? customer.accounts
    : [{ accountId: customer.accountId, name: 'Current account', currency: customer.currency || 'GBP' }];
  // One key per proposal the form shows: a retry after a lost answer proposes nothing twice.
  let idempotencyKey = newIdempotencyKey();

  const kind = h('select', { name: 'kind', dataset: { testid: 'propose-kind' } },
    KINDS.map(([value, label]) => h('option', { value }, label)));
  const account = h('select', { name: 'account', dataset: { testid: 'propose-account' } },
    accounts.map((a) => h('option', { value: a.accountId }, `${a.name || 'Account'} (${a.currency})`)));
  const amount = h('input', { name: 'amount', inputmode: 'decimal', required: true, maxlength: 20, dataset: { testid: 'propose-amount' } });
  const reason = h('textarea', { name: 'reason', required: true, maxlength: 500, rows: 2, dataset: { testid: 'propose-reason' } });
  const original = h('input', { name: 'originalTransferId', maxlength: 64, dataset: { testid: 'propose-original' } });
  const originalLabel = h('label', { hidden: true }, 'Transfer id of the payment refunded (Refund… on a feed row fills it)', original);
  const error = h('p', { class: 'error', role: 'alert', hidden: true, dataset: { testid: 'propose-error' } });
  const done = h('p', { class: 'notice', hidden: true, dataset: { testid: 'propose-done' } });
  const submit = h('button', { type: 'submit', class: 'primary', dataset: { testid: 'propose-submit' } }, 'Propose');

  kind.addEventListener('change', () => { originalLabel.hidden = kind.value !== 'refund'; });
  const form = h('form', { class: 'propose-credit', novalidate: true, dataset: { testid: 'propose-form' } },
    h('h2', {}, `Propose a credit for ${customer.name || 'this customer'}`),
    h('label', {}, 'Kind', kind),
    h('label', {}, 'Account', account),
    h('label', {}, 'Amount', amount),
    originalLabel,
    h('label', {}, 'Reason (the checker reads it)', reason),
    error, done, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    done.hidden = true;
    const chosen = accounts.find((a) => a.accountId === account.value) || accounts[0];
    const minor = parseAmount(amount.value, chosen.currency);
    if (minor === null) return show(error, `Enter an amount in ${chosen.currency}, such as 12.50.`);
    if (!reason.value.trim()) return show(error, 'Say why: the second person approves on your reason.');
    submit.disabled = true;
    try {
      const approval = await api('POST', '/staff/api/approvals', {
        idempotencyKey,
        body: {
          kind: kind.value,
          customerId: customer.customerId,
          accountId: chosen.accountId,
          amount: minor,
          currency: chosen.currency,
          reason: reason.value.trim(),
          originalTransferId: kind.value === 'refund' ? original.value.trim() : undefined,
        },
      });
      idempotencyKey = newIdempotencyKey();
      form.reset();
      originalLabel.hidden = true;
      show(done, `Proposed ${money(approval.amount, approval.currency)}: waiting for another operations member to approve it.`);
      onProposed?.(approval);
    } catch (problem) {
      show(error, describeError(problem));
    } finally {
      submit.disabled = false;
    }
  });
  // A feed row's "Refund…": a refund of that payment, for up to what it took; the staff member says why.
  form.prefillRefund = ({ transferId, amount: paid, currency }) => {
    kind.value = 'refund';
    originalLabel.hidden = false;
    original.value = transferId;
    const digits = fractionDigits(currency);
    amount.value = (Math.abs(paid) / 10 ** digits).toFixed(digits);
    reason.focus();
  };
  container.replaceChildren(form);
  return form;
}

/**
 * Mounts the approvals waiting for a decision. Operations staff (me.roles) get Approve and Refuse
 * on each; everyone sees who proposed what and why. Answers a refresh function.
 */
export function mountApprovals(container, me) {
  const operations = (me.roles || []).includes('operations');
  const list = h('ul', { class: 'approvals', dataset: { testid: 'approvals' } });
  const error = h('p', { class: 'error', role: 'alert', hidden: true, dataset: { testid: 'approval-error' } });
  const empty = h('p', { class: 'muted', hidden: true, dataset: { testid: 'approvals-empty' } }, 'Nothing is waiting for approval.');

  async function refresh() {
    try {
      // Approved but not executed too: the staff edge stopped, or accounts was away, between the
      // approval and the credit. Executing again is safe (the transfer id is the approval's).
      const [pending, stuck] = await Promise.all([
        api('GET', '/staff/api/approvals?status=pending'),
        api('GET', '/staff/api/approvals?status=approved'),
      ]);
      const waiting = [...pending.approvals, ...stuck.approvals];
      list.replaceChildren(...waiting.map(row));
      empty.hidden = waiting.length > 0;
    } catch (problem) {
      show(error, describeError(problem));
    }
  }

  function row(approval) {
    const mine = approval.makerStaffId === me.staffId;
    const reason = h('input', { placeholder: 'Why not (to refuse)', maxlength: 500, dataset: { testid: 'refuse-reason' } });
    const approve = h('button', { type: 'button', class: 'primary', dataset: { testid: 'approve' } }, 'Approve');
    const refuse = h('button', { type: 'button', dataset: { testid: 'refuse' } }, 'Refuse');
    if (approval.status === 'approved') {
      const execute = h('button', { type: 'button', class: 'primary', dataset: { testid: 'execute' } }, 'Execute again');
      execute.addEventListener('click', () => decide(approval, 'execute', undefined, [execute]));
      return h('li', { class: 'approval', dataset: { testid: 'approval-row', approvalId: approval.approvalId, status: approval.status } },
        h('strong', {}, `Approved, not yet paid: ${money(approval.amount, approval.currency)}`),
        h('span', { class: 'muted' }, ` · customer ${approval.customerId}`),
        h('p', {}, approval.reason),
        operations ? h('div', { class: 'actions' }, execute) : null);
    }
    approve.addEventListener('click', () => decide(approval, 'approve', undefined, [approve, refuse]));
    refuse.addEventListener('click', () => decide(approval, 'refuse', { reason: reason.value.trim() }, [approve, refuse]));
    return h('li', { class: 'approval', dataset: { testid: 'approval-row', approvalId: approval.approvalId, status: approval.status } },
      h('strong', {}, `${approval.kind === 'refund' ? 'Refund' : 'Goodwill credit'} of ${money(approval.amount, approval.currency)}`),
      h('span', { class: 'muted' }, ` · customer ${approval.customerId}${mine ? ' · proposed by you' : ''}`),
      h('p', {}, approval.reason),
      approval.originalTransferId ? h('p', { class: 'muted' }, `Refunds ${approval.originalTransferId}`) : null,
      operations ? h('div', { class: 'actions' }, approve, reason, refuse) : null);
  }

  async function decide(approval, action, body, buttons) {
    error.hidden = true;
    buttons.forEach((button) => { button.disabled = true; });
    try {
      const decided = await api('POST', `/staff/api/approvals/${encodeURIComponent(approval.approvalId)}/${action}`, { body: body || {} });
      if (decided.status === 'failed') show(error, `Approved, but the credit failed: ${decided.failureReason}`);
      await refresh();
    } catch (problem) {
      // Own proposals (403 own-approval), a support member's attempt, a decided or expired approval:
      // the edge's detail says which.
      show(error, describeError(problem));
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  container.replaceChildren(h('section', { class: 'panel', dataset: { testid: 'approvals-panel' } },
    h('h2', {}, 'Waiting for approval'), error, empty, list));
  refresh();
  return refresh;
}

function show(element, text) {
  element.textContent = text;
  element.hidden = false;
}
