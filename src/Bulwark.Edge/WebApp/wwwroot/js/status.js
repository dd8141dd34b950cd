// The bank's status banner (docs/guides/ops-view.md): asked of GET /api/v1/status when the app
// starts and every 30 s after, signed in or not, and shown above every screen while the bank is
// degraded. Text goes in through textContent only. A failed poll keeps what is shown: an edge
// that cannot be reached is no reason to hide a banner saying the bank is in trouble.

import { $ } from './dom.js';

const POLL_MS = 30_000;
const LEVELS = ['info', 'warning', 'critical'];

export function startStatusBanner() {
  poll();
  setInterval(poll, POLL_MS);
}

async function poll() {
  let status;
  try {
    const response = await fetch('/api/v1/status', { headers: { Accept: 'application/json' } });
    if (!response.ok) return;
    status = await response.json();
  } catch {
    return;
  }
  show(status?.banner ?? null);
}

function show(banner) {
  const element = $('status-banner');
  if (!banner || typeof banner.message !== 'string') {
    element.hidden = true;
    element.textContent = '';
    return;
  }
  const level = LEVELS.includes(banner.level) ? banner.level : 'warning';
  element.className = `status-banner status-${level}`;
  element.dataset.level = level;
  element.textContent = banner.message;
  element.hidden = false;
}
