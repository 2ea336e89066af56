/**
 * How many terminal columns text takes: grapheme clusters (`Intl.Segmenter`)
 * measured by East Asian Width (UAX #11) and emoji presentation (UTS #51).
 *
 * @module
 */

// Code point ranges (first, last) whose East_Asian_Width is W or F, from
// Unicode 14 EastAsianWidth.txt (unassigned gaps inside a range merged in).
// Since Unicode 9, characters with Emoji_Presentation are W, so this covers
// emoji too.
const WIDE: readonly number[] = [
  0x1100,
  0x115f,
  0x231a,
  0x231b,
  0x2329,
  0x232a,
  0x23e9,
  0x23ec,
  0x23f0,
  0x23f0,
  0x23f3,
  0x23f3,
  0x25fd,
  0x25fe,
  0x2614,
  0x2615,
  0x2648,
  0x2653,
  0x267f,
  0x267f,
  0x2693,
  0x2693,
  0x26a1,
  0x26a1,
  0x26aa,
  0x26ab,
  0x26bd,
  0x26be,
  0x26c4,
  0x26c5,
  0x26ce,
  0x26ce,
  0x26d4,
  0x26d4,
  0x26ea,
  0x26ea,
  0x26f2,
  0x26f3,
  0x26f5,
  0x26f5,
  0x26fa,
  0x26fa,
  0x26fd,
  0x26fd,
  0x2705,
  0x2705,
  0x270a,
  0x270b,
  0x2728,
  0x2728,
  0x274c,
  0x274c,
  0x274e,
  0x274e,
  0x2753,
  0x2755,
  0x2757,
  0x2757,
  0x2795,
  0x2797,
  0x27b0,
  0x27b0,
  0x27bf,
  0x27bf,
  0x2b1b,
  0x2b1c,
  0x2b50,
  0x2b50,
  0x2b55,
  0x2b55,
  0x2e80,
  0x303e,
  0x3041,
  0x3247,
  0x3250,
  0x4dbf,
  0x4e00,
  0xa4c6,
  0xa960,
  0xa97c,
  0xac00,
  0xd7a3,
  0xf900,
  0xfad9,
  0xfe10,
  0xfe19,
  0xfe30,
  0xfe6b,
  0xff01,
  0xff60,
  0xffe0,
  0xffe6,
  0x16fe0,
  0x1b2fb,
  0x1f004,
  0x1f004,
  0x1f0cf,
  0x1f0cf,
  0x1f18e,
  0x1f18e,
  0x1f191,
  0x1f19a,
  0x1f200,
  0x1f320,
  0x1f32d,
  0x1f335,
  0x1f337,
  0x1f37c,
  0x1f37e,
  0x1f393,
  0x1f3a0,
  0x1f3ca,
  0x1f3cf,
  0x1f3d3,
  0x1f3e0,
  0x1f3f0,
  0x1f3f4,
  0x1f3f4,
  0x1f3f8,
  0x1f43e,
  0x1f440,
  0x1f440,
  0x1f442,
  0x1f4fc,
  0x1f4ff,
  0x1f53d,
  0x1f54b,
  0x1f54e,
  0x1f550,
  0x1f567,
  0x1f57a,
  0x1f57a,
  0x1f595,
  0x1f596,
  0x1f5a4,
  0x1f5a4,
  0x1f5fb,
  0x1f64f,
  0x1f680,
  0x1f6c5,
  0x1f6cc,
  0x1f6cc,
  0x1f6d0,
  0x1f6d2,
  0x1f6d5,
  0x1f6df,
  0x1f6eb,
  0x1f6ec,
  0x1f6f4,
  0x1f6fc,
  0x1f7e0,
  0x1f7f0,
  0x1f90c,
  0x1f93a,
  0x1f93c,
  0x1f945,
  0x1f947,
  0x1f9ff,
  0x1fa70,
  0x1faf6,
  0x20000,
  0x3fffd,
];

const SEGMENTER = new Intl.Segmenter();
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]/u;
const REGIONAL_INDICATOR = /\p{Regional_Indicator}/gu;

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < WIDE[2 * mid]) hi = mid - 1;
    else if (cp > WIDE[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * Splits text into grapheme clusters (UAX #29, extended), the units a
 * person sees as one character: `e` with its accents, an emoji with its skin
 * tone, a flag, a family joined by ZWJ.
 *
 * @param text Any text.
 * @returns Its clusters, in order; joined they give back the text.
 *
 * @example Usage
 * ```ts
 * import { graphemes } from "./display_width.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(graphemes("ok👍🏽e\u0301"), ["o", "k", "👍🏽", "e\u0301"]);
 * ```
 */
export function graphemes(text: string): string[] {
  return Array.from(SEGMENTER.segment(text), (s) => s.segment);
}

/**
 * The columns one grapheme cluster takes on a terminal: 0 for a lone
 * combining or format character, 2 for East Asian Wide and Fullwidth
 * characters, emoji and flags (and a character asking for emoji presentation
 * with U+FE0F), 1 otherwise.
 *
 * @param cluster One grapheme cluster, as {@linkcode graphemes} gives.
 * @returns 0, 1 or 2.
 *
 * @example Usage
 * ```ts
 * import { clusterWidth } from "./display_width.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals([clusterWidth("a"), clusterWidth("日"), clusterWidth("👍🏽")], [1, 2, 2]);
 * ```
 */
export function clusterWidth(cluster: string): number {
  const cp = cluster.codePointAt(0);
  if (cp === undefined) return 0;
  if (ZERO_WIDTH.test(cluster)) return 0;
  if (isWide(cp)) return 2;
  const flags = cluster.match(REGIONAL_INDICATOR)?.length ?? 0;
  if (flags > 0) return Math.min(flags, 2);
  return cluster.includes("\ufe0f") ? 2 : 1;
}

/**
 * The columns text takes on a terminal, cluster by cluster.
 *
 * @param text Text without control characters.
 * @returns Its width in columns.
 *
 * @example Usage
 * ```ts
 * import { displayWidth } from "./display_width.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(displayWidth("send 日本語 e\u0301"), 13);
 * ```
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of SEGMENTER.segment(text)) {
    width += clusterWidth(segment);
  }
  return width;
}
