/**
 * Bounded text: the one place where input echoed into a message, and a message as a whole, is cut
 * to size. A 5 MB selector must not become a 10 MB error: a Lambda response is capped at 6 MB and a
 * Step Functions payload at 256 KB, and a terminal does not want it either. What is cut is said:
 * `… [4,999,700 more characters]`.
 */

/** How much of one user-supplied value a message echoes. */
export const ECHO_LIMIT = 200;

/**
 * The most a whole message may take, as UTF-8 bytes once JSON-encoded (how Lambda and Step
 * Functions carry it): a quarter of Step Functions' 256 KB, so a summary around it still fits.
 */
export const MESSAGE_LIMIT_BYTES = 64 * 1024;

/** `text`, or its first `max` characters and how many more there were. Never splits a surrogate pair. */
export function boundText(text: string, max: number = ECHO_LIMIT): string {
  if (text.length <= max) return text;
  const keep = cutPoint(text, max);
  return `${text.slice(0, keep)}${cutNote(text.length - keep)}`;
}

/** A value as JSON (how messages quote input), cut by `boundText`. */
export function boundJson(value: unknown, max: number = ECHO_LIMIT): string {
  // Cut a long string before encoding it: encoding 5 MB to cut it to 200 characters is waste.
  if (typeof value === 'string' && value.length > max) {
    const keep = cutPoint(value, max);
    return `${JSON.stringify(value.slice(0, keep))}${cutNote(value.length - keep)}`;
  }
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  return boundText(json, max);
}

/**
 * `text` cut so that, JSON-encoded as UTF-8, it takes at most `maxBytes` bytes (the note saying what
 * was cut included). Counts what the encoding costs: 1 byte for ASCII, up to 4 for other characters,
 * 6 for a control character or a lone surrogate (`\u0000`, `\ud800`).
 */
export function capBytes(text: string, maxBytes: number = MESSAGE_LIMIT_BYTES): string {
  // Every UTF-16 unit costs at most 6 bytes: short text needs no walk.
  if (text.length * 6 + 2 <= maxBytes) return text;
  // Room for the quotes and for the note (its digits included).
  // TextEncoder rather than Buffer: the docs site runs error messages through here in a browser.
  const budget = maxBytes - 2 - new TextEncoder().encode(cutNote(text.length)).length;
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const cost = encodedCost(text, i);
    if (used + cost.bytes > budget) break;
    used += cost.bytes;
    i += cost.units;
  }
  return i >= text.length ? text : `${text.slice(0, i)}${cutNote(text.length - i)}`;
}

function cutNote(characters: number): string {
  return `… [${characters.toLocaleString('en-US')} more character${characters === 1 ? '' : 's'}]`;
}

/** The largest index <= max that does not fall inside a surrogate pair. */
function cutPoint(text: string, max: number): number {
  const before = text.charCodeAt(max - 1);
  const at = text.charCodeAt(max);
  return before >= 0xd800 && before <= 0xdbff && at >= 0xdc00 && at <= 0xdfff ? max - 1 : max;
}

/** The bytes JSON.stringify + UTF-8 make of the character at `i`, and how many code units it is. */
function encodedCost(text: string, i: number): { bytes: number; units: number } {
  const c = text.charCodeAt(i);
  if (c < 0x20) return { bytes: 6, units: 1 };
  if (c === 0x22 || c === 0x5c) return { bytes: 2, units: 1 };
  if (c < 0x80) return { bytes: 1, units: 1 };
  if (c < 0x800) return { bytes: 2, units: 1 };
  if (c >= 0xd800 && c <= 0xdbff) {
    const next = text.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) return { bytes: 4, units: 2 };
    return { bytes: 6, units: 1 };
  }
  if (c >= 0xdc00 && c <= 0xdfff) return { bytes: 6, units: 1 };
  return { bytes: 3, units: 1 };
}
