// Cards: each card with its last four digits and a freeze / unfreeze switch.
import { $, h, showError } from './dom.js';
import { api } from './api.js';
import { icon } from './icons.js';

export function init() {}

export async function enter() {
  showError($('cards-error'), null);
  try {
    const data = await api('GET', '/api/cards');
    render(data.cards);
  } catch (error) {
    showError($('cards-error'), error);
  }
}

export function leave() {}

function render(cards) {
  if (cards.length === 0) {
    $('cards').replaceChildren(h('p', { class: 'muted center' }, 'You have no cards yet.'));
    return;
  }
  $('cards').replaceChildren(...cards.map(cardView));
}

function cardView(card) {
  const expiry = `${String(card.expiryMonth).padStart(2, '0')}/${String(card.expiryYear % 100).padStart(2, '0')}`;
  const toggle = h('button', {
    type: 'button',
    class: `button ${card.frozen ? 'primary' : 'secondary'}`,
    dataset: { testid: 'card-freeze-toggle', cardId: card.cardId },
  }, card.frozen ? 'Unfreeze card' : 'Freeze card');
  const view = h('div', { class: 'card-block', dataset: { testid: 'card', cardId: card.cardId, frozen: String(card.frozen) } },
    h('div', { class: `bank-card${card.frozen ? ' frozen' : ''}` },
      h('span', { class: 'brand' }, 'bulwark'),
      card.frozen ? h('span', { class: 'frozen-badge', dataset: { testid: 'card-frozen-badge' } }, icon('snowflake'), 'Frozen') : null,
      h('span', { class: 'number' }, `•••• •••• •••• ${card.lastFour}`),
      h('span', { class: 'expiry' }, `Expires ${expiry}`)),
    h('div', { class: 'card-actions' }, toggle));
  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    showError($('cards-error'), null);
    try {
      const updated = await api('POST', `/api/cards/${encodeURIComponent(card.cardId)}/${card.frozen ? 'unfreeze' : 'freeze'}`);
      view.replaceWith(cardView(updated));
    } catch (error) {
      showError($('cards-error'), error);
      toggle.disabled = false;
    }
  });
  return view;
}
