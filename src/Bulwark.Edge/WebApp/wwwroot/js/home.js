// Home: the balance large at the top, spent today, pots as cards, and the feed grouped by day.
import { $, h, showError, toast, describeError } from './dom.js';
import { api, newIdempotencyKey } from './api.js';
import { money, parseAmount, dayKey, dayLabel, time, sortCode } from './format.js';
import { icon, CATEGORY_ICONS, POT_ICONS } from './icons.js';

const REFRESH_MILLISECONDS = 4000;
const FEED_PAGE = 20;


let state = fresh();
let timer = 0;
let refreshing = false;
let refreshAgain = false;

function fresh() {
  return { account: null, pots: [], items: new Map(), cursor: null, loadedMore: false, pot: null, potKey: null, named: false };
}

export function init() {
  $('feed-load-more').addEventListener('click', loadMore);
  $('pot-deposit').addEventListener('click', () => movePotMoney('deposit'));
  $('pot-withdraw').addEventListener('click', () => movePotMoney('withdraw'));
  $('pot-close').addEventListener('click', () => $('pot-sheet').close());
  $('pot-amount').addEventListener('input', () => { state.potKey = null; });
  $('new-pot').addEventListener('click', openNewPot);
  $('new-pot-create').addEventListener('click', createPot);
  $('new-pot-close').addEventListener('click', () => $('new-pot-sheet').close());
  // Enter in a sheet must not close it unnoticed (the default for dialog forms): it does nothing
  // in the pot sheet, where in and out are two different buttons, and creates the pot in the other.
  $('pot-form').addEventListener('submit', (event) => event.preventDefault());
  $('new-pot-form').addEventListener('submit', (event) => {
    event.preventDefault();
    createPot();
  });
}

export function enter() {
  refresh(true);
  clearInterval(timer);
  // Money moves in the background (card payments, salaries): keep the screen current.
  timer = setInterval(() => {
    if (document.visibilityState === 'visible') refresh(false);
  }, REFRESH_MILLISECONDS);
}

export function leave() {
  clearInterval(timer);
  timer = 0;
}

export function reset() {
  leave();
  state = fresh();
  refreshAgain = false;
  $('balance-amount').textContent = '—';
  $('pots').replaceChildren();
  $('feed').replaceChildren();
  $('greeting').textContent = 'Hello';
}

async function refresh(first) {
  if (refreshing) {
    // A change the customer just made must show even if a background refresh is under way.
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    if (!state.named) greet();
    const data = await api('GET', '/api/accounts');
    const account = data.accounts[0];
    if (!account) {
      $('account-label').textContent = 'No account yet';
      return;
    }
    state.account = account;
    state.pots = data.pots.filter((pot) => pot.accountId === account.accountId);
    renderBalance(account);
    renderPots();
    const [spent, page] = await Promise.all([
      api('GET', `/api/accounts/${encodeURIComponent(account.accountId)}/spent-today`),
      api('GET', `/api/accounts/${encodeURIComponent(account.accountId)}/feed?limit=${FEED_PAGE}`),
    ]);
    $('spent-today').textContent = `Spent today ${money(spent.amount, spent.currency)}`;
    merge(page.items);
    // The first page's cursor is only ours while nothing older has been loaded.
    if (first || !state.loadedMore) state.cursor = page.nextCursor ?? null;
    renderFeed();
  } catch (error) {
    if (error.status !== 401 && first) toast(describeError(error));
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refresh(false);
    }
  }
}

async function greet() {
  try {
    const me = await api('GET', '/api/me');
    $('greeting').textContent = `Hi ${me.name.split(' ')[0]}`;
    state.named = true;
  } catch {
    // The greeting is a nicety; the next refresh tries again.
  }
}

function renderBalance(account) {
  const balance = account.balance;
  $('account-label').textContent = `${account.name} · ${sortCode(account.sortCode)} · ${account.accountNumber}`;
  $('balance-amount').textContent = money(balance.available, balance.currency);
  const pending = $('pending-out');
  pending.hidden = balance.pendingOut <= 0;
  pending.textContent = `${money(balance.pendingOut, balance.currency)} pending`;
  const overdraft = $('overdraft');
  overdraft.hidden = balance.overdraftLimit <= 0;
  overdraft.textContent = `Overdraft ${money(balance.overdraftLimit, balance.currency)} arranged`;
  // available does not include the overdraft: below minus the limit the account is past it, which
  // card payments the bank had to honour (a shop's presentment, a stand-in approval) can do.
  const past = -(balance.available + balance.overdraftLimit);
  const warning = $('past-overdraft');
  warning.hidden = past <= 0;
  warning.textContent = past > 0
    ? `Your account is ${money(past, balance.currency)} past your arranged overdraft. Pay money in to bring it back within your limit.`
    : '';
}

function renderPots() {
  const cards = state.pots.map((pot, index) => {
    const goal = pot.goalAmount > 0
      ? [
          h('span', { class: 'pot-goal' }, `Goal ${money(pot.goalAmount, pot.currency)}`),
          progress(pot.balance.available, pot.goalAmount),
        ]
      : [];
    return h('button', {
      type: 'button',
      class: 'pot card',
      id: `pot-${pot.potId}`,
      dataset: { testid: 'pot-card', potId: pot.potId },
      onclick: () => openPot(pot.potId),
    },
    h('span', { class: 'pot-icon', 'aria-hidden': 'true' }, icon(POT_ICONS[index % POT_ICONS.length])),
    h('span', { class: 'pot-name' }, pot.name),
    h('span', { class: 'pot-balance', dataset: { testid: 'pot-balance' } }, money(pot.balance.available, pot.currency)),
    goal);
  });
  $('pots').replaceChildren(...cards);
}

function progress(value, goal) {
  const bar = h('span');
  bar.style.width = `${Math.max(0, Math.min(100, (value / goal) * 100))}%`;
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': goal, 'aria-valuenow': value }, bar);
}

function merge(items) {
  for (const item of items) state.items.set(item.transferId, item);
}

function renderFeed() {
  const items = [...state.items.values()].sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp));
  const groups = new Map();
  for (const item of items) {
    const date = new Date(item.timestamp);
    const key = dayKey(date);
    if (!groups.has(key)) groups.set(key, { label: dayLabel(date), items: [] });
    groups.get(key).items.push(item);
  }
  const days = [...groups.values()].map((group) =>
    h('section', { class: 'day', dataset: { testid: 'feed-day' } },
      h('h3', {}, group.label),
      h('ul', { class: 'card' }, group.items.map(feedItem))));
  $('feed').replaceChildren(...days);
  $('feed-empty').hidden = items.length > 0;
  $('feed-load-more').hidden = !state.cursor;
}

function feedItem(item) {
  const incoming = item.amount > 0;
  const tags = [];
  if (item.state === 'pending') tags.push(h('span', { class: 'tag pending', dataset: { testid: 'feed-item-pending' } }, 'Pending'));
  if (item.state === 'released') tags.push(h('span', { class: 'tag released' }, 'Released'));
  const detail = [labelOf(item.category), time(new Date(item.timestamp)), item.reference].filter(Boolean).join(' · ');
  return h('li', {
    class: `item ${item.state}`,
    dataset: { testid: 'feed-item', transferId: item.transferId, state: item.state },
  },
  h('span', { class: 'item-icon', 'aria-hidden': 'true' }, icon(CATEGORY_ICONS[item.category])),
  h('span', { class: 'item-text' },
    h('span', { class: 'item-title', dataset: { testid: 'feed-item-title' } }, item.description),
    h('span', { class: 'item-sub' }, tags, detail)),
  h('span', { class: `item-amount ${incoming ? 'in' : 'out'}`, dataset: { testid: 'feed-item-amount' } },
    incoming ? money(item.amount, item.currency, { plus: true }) : money(item.amount, item.currency, { absolute: true })));
}

function labelOf(category) {
  const text = (category || 'general').replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function loadMore() {
  if (!state.account || !state.cursor) return;
  const button = $('feed-load-more');
  button.disabled = true;
  try {
    const page = await api('GET',
      `/api/accounts/${encodeURIComponent(state.account.accountId)}/feed?limit=${FEED_PAGE}&cursor=${encodeURIComponent(state.cursor)}`);
    merge(page.items);
    state.loadedMore = true;
    state.cursor = page.nextCursor ?? null;
    renderFeed();
  } catch (error) {
    toast(describeError(error));
  } finally {
    button.disabled = false;
  }
}

function openPot(potId) {
  const pot = state.pots.find((candidate) => candidate.potId === potId);
  if (!pot) return;
  state.pot = pot;
  state.potKey = null;
  $('pot-sheet-title').textContent = pot.name;
  $('pot-sheet-balance').textContent = `${money(pot.balance.available, pot.currency)} in this pot`;
  $('pot-amount').value = '';
  showError($('pot-error'), null);
  $('pot-sheet').showModal();
  $('pot-amount').focus();
}

async function movePotMoney(direction) {
  const pot = state.pot;
  if (!pot) return;
  const amount = parseAmount($('pot-amount').value, pot.currency);
  if (amount === null) {
    showError($('pot-error'), { message: 'Enter an amount, like 10 or 10.50.' });
    return;
  }
  // One key per attempt: a retry after a network error reuses it, so money never moves twice.
  state.potKey ??= newIdempotencyKey();
  const buttons = [$('pot-deposit'), $('pot-withdraw')];
  buttons.forEach((button) => { button.disabled = true; });
  try {
    await api('POST', `/api/pots/${encodeURIComponent(pot.potId)}/${direction}`, {
      body: { amount, currency: pot.currency },
      idempotencyKey: state.potKey,
    });
    state.potKey = null;
    $('pot-sheet').close();
    toast(direction === 'deposit'
      ? `Added ${money(amount, pot.currency)} to ${pot.name}`
      : `Moved ${money(amount, pot.currency)} out of ${pot.name}`);
    await refresh(false);
  } catch (error) {
    // A definite refusal needs a new key for the next attempt; an unknown outcome keeps it.
    if (error.status >= 400 && error.status < 500) state.potKey = null;
    showError($('pot-error'), error);
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

function openNewPot() {
  if (!state.account) return;
  $('new-pot-name').value = '';
  $('new-pot-goal').value = '';
  showError($('new-pot-error'), null);
  $('new-pot-sheet').showModal();
  $('new-pot-name').focus();
}

async function createPot() {
  const account = state.account;
  const name = $('new-pot-name').value.trim();
  const goalText = $('new-pot-goal').value.trim();
  const goalAmount = goalText ? parseAmount(goalText, account.currency) : 0;
  if (!name) {
    showError($('new-pot-error'), { message: 'Give the pot a name.' });
    return;
  }
  if (goalAmount === null) {
    showError($('new-pot-error'), { message: 'Enter the goal as an amount, like 500.' });
    return;
  }
  try {
    await api('POST', '/api/pots', { body: { accountId: account.accountId, name, goalAmount } });
    $('new-pot-sheet').close();
    toast(`Created ${name}`);
    await refresh(false);
  } catch (error) {
    showError($('new-pot-error'), error);
  }
}
