/**
 * Chat text: its size limit and how it is split into datagram-sized parts.
 *
 * @module
 */
import { MAX_CHUNK_BYTES, MAX_MESSAGE_BYTES } from "./constants.ts";

/**
 * The UTF-8 length of a string, without allocating.
 *
 * @param text Any string.
 * @returns Its length in UTF-8 bytes (lone surrogates count as U+FFFD, 3 bytes).
 *
 * @example Usage
 * ```ts
 * import { utf8Length } from "./text.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(utf8Length("héllo 👋"), 11);
 * ```
 */
export function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * Whether a message is short enough to send.
 *
 * @param text The message text.
 * @returns True when its UTF-8 length is at most {@linkcode MAX_MESSAGE_BYTES}.
 *
 * @example Usage
 * ```ts
 * import { fitsMessageLimit } from "./text.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(fitsMessageLimit("x".repeat(16385)), false);
 * ```
 */
export function fitsMessageLimit(text: string): boolean {
  // UTF-8 never takes fewer bytes than UTF-16 code units: skip long texts at once.
  return text.length <= MAX_MESSAGE_BYTES &&
    utf8Length(text) <= MAX_MESSAGE_BYTES;
}

// Bytes a code point takes inside a JSON string literal.
function jsonCost(cp: number): number {
  if (cp === 0x22 || cp === 0x5c) return 2;
  if (cp < 0x20) return 6;
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/**
 * Splits text into parts whose JSON encoding fits one datagram, never inside
 * a code point. Lone surrogates become U+FFFD, as UTF-8 requires.
 *
 * @param text The message text.
 * @param options `maxBytes`: the budget per part (default {@linkcode MAX_CHUNK_BYTES}).
 * @returns At least one part; joined they give back the text.
 *
 * @example Usage
 * ```ts
 * import { splitText } from "./text.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(splitText("abcdef", { maxBytes: 4 }), ["abcd", "ef"]);
 * ```
 */
export function splitText(
  text: string,
  options: { maxBytes?: number } = {},
): string[] {
  const max = options.maxBytes ?? MAX_CHUNK_BYTES;
  const parts: string[] = [];
  let current = "";
  let size = 0;
  for (let ch of text) {
    let cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      ch = "\ufffd";
      cp = 0xfffd;
    }
    const cost = jsonCost(cp);
    if (size + cost > max && current !== "") {
      parts.push(current);
      current = "";
      size = 0;
    }
    current += ch;
    size += cost;
  }
  parts.push(current);
  return parts;
}
