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

const dayFormat = new Intl.DateTimeFormat(LOCALE, { weekday: 'long', day: 'numeric', month: 'long' });
const dayYearFormat = new Intl.DateTimeFormat(LOCALE, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: '2-digit', minute: '2-digit' });

export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function dayLabel(date, now = new Date()) {
  if (dayKey(date) === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return 'Yesterday';
  return (date.getFullYear() === now.getFullYear() ? dayFormat : dayYearFormat).format(date);
}

export function time(date) {
  return timeFormat.format(date);
}

export function sortCode(digits) {
  return /^\d{6}$/.test(digits) ? `${digits.slice(0, 2)}-${digits.slice(2, 4)}-${digits.slice(4)}` : digits;
}
