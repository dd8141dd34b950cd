// Money and dates. Amounts arrive as integer minor units; they are never parsed through floats.

const LOCALE = 'en-GB';
const formatters = new Map();

function formatter(currency, signDisplay) {
  const key = `${currency}|${signDisplay}`;
  let result = formatters.get(key);
  if (!result) {
    result = new Intl.NumberFormat(LOCALE, { style: 'currency', currency, signDisplay });
    formatters.set(key, result);
  }
  return result;
}

/** How many minor units digits a currency has (GBP 2, JPY 0, BHD 3). */
export function fractionDigits(currency) {
  return formatter(currency, 'auto').resolvedOptions().maximumFractionDigits;
}

/** Formats minor units: money(123456, 'GBP') is "£1,234.56"; with { plus: true } money in reads "+£1,234.56". */
export function money(minor, currency, { plus = false, absolute = false } = {}) {
  const digits = fractionDigits(currency);
  const value = Number(minor) / 10 ** digits;
  const shown = absolute ? Math.abs(value) : value;
  return formatter(currency, plus ? 'exceptZero' : 'auto').format(shown);
}

/**
 * Parses what a person typed ("12", "12.5", "£1,200.00") into minor units, or null when it is not
 * a positive amount with at most the currency's decimal places.
 */
export function parseAmount(text, currency) {
  const digits = fractionDigits(currency);
  const cleaned = String(text).replace(/[\s,£$€]/g, '');
  const pattern = digits > 0 ? new RegExp(`^(\\d{1,12})(?:\\.(\\d{1,${digits}}))?$`) : /^(\d{1,12})$/;
  const match = pattern.exec(cleaned);
  if (!match) return null;
  const whole = Number(match[1]);
  const fraction = Number((match[2] || '').padEnd(digits, '0') || '0');
  const minor = whole * 10 ** digits + fraction;
  return minor > 0 ? minor : null;
}

// Days and times are the customer's (Europe/London), whatever zone the device is set to: the
// feed's "Today" must be the same day as the bank's "spent today" (docs/concepts/feed.md).
const CUSTOMER_ZONE = 'Europe/London';
const dayFormat = new Intl.DateTimeFormat(LOCALE, { timeZone: CUSTOMER_ZONE, weekday: 'long', day: 'numeric', month: 'long' });
const dayYearFormat = new Intl.DateTimeFormat(LOCALE, { timeZone: CUSTOMER_ZONE, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const timeFormat = new Intl.DateTimeFormat(LOCALE, { timeZone: CUSTOMER_ZONE, hour: '2-digit', minute: '2-digit' });
const partsFormat = new Intl.DateTimeFormat(LOCALE, { timeZone: CUSTOMER_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });

function customerDate(date) {
  const parts = Object.fromEntries(partsFormat.formatToParts(date).map((part) => [part.type, part.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day) };
}

function key({ year, month, day }) {
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The customer's calendar day of an instant, "2030-06-15". */
export function dayKey(date) {
  return key(customerDate(date));
}

export function dayLabel(date, now = new Date()) {
  const today = customerDate(now);
  const day = customerDate(date);
  if (key(day) === key(today)) return 'Today';
  // Calendar arithmetic on the customer's date, in UTC so the device's zone plays no part.
  const previous = new Date(Date.UTC(today.year, today.month - 1, today.day - 1));
  const yesterday = { year: previous.getUTCFullYear(), month: previous.getUTCMonth() + 1, day: previous.getUTCDate() };
  if (key(day) === key(yesterday)) return 'Yesterday';
  return (day.year === today.year ? dayFormat : dayYearFormat).format(date);
}

export function time(date) {
  return timeFormat.format(date);
}

export function sortCode(digits) {
  return /^\d{6}$/.test(digits) ? `${digits.slice(0, 2)}-${digits.slice(2, 4)}-${digits.slice(4)}` : digits;
}
