/**
 * Neutralising text from the network before it reaches a terminal: the one
 * function the client's terminal and the server's console both print through.
 *
 * @module
 */

// C0 and C1 controls and DEL drive the terminal (escape sequences, bells,
// carriage returns). Bidi embeddings, overrides, isolates and marks (U+202A-E,
// U+2066-9, U+200E/F, U+061C) reorder what is shown (`exe.png` read as
// `gnp.exe`, Unicode TR #36 §2.4), and line and paragraph separators (U+2028,
// U+2029) start new lines on some terminals.
const UNSAFE =
  // deno-lint-ignore no-control-regex -- control characters are the point
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Replaces every character that could drive the terminal or reorder or
 * break the displayed line with U+FFFD: C0 and C1 controls, DEL, bidi
 * controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the
 * line and paragraph separators U+2028 and U+2029. A tab becomes a space.
 * Other text, emoji and combining marks included, is untouched, and the
 * result has the same length in UTF-16 code units.
 *
 * @param text Text from the network (or typed).
 * @returns Text safe to print.
 *
 * @example Usage
 * ```ts
 * import { sanitize } from "./sanitize.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(sanitize("a\x1b[2Jb\tc é"), "a\ufffd[2Jb c é");
 * assertEquals(sanitize("photo\u202egnp.exe"), "photo\ufffdgnp.exe");
 * ```
 */
export function sanitize(text: string): string {
  return text.replaceAll("\t", " ").replace(UNSAFE, "\ufffd");
}
