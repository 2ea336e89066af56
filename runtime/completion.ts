/**
 * Tab completion of the input line: the command as the first word, a user
 * name after a command that takes one.
 *
 * @module
 */
import { COMMAND_NAMES } from "../client/commands.ts";

/** The chat commands, as the first word of a line (from client/commands.ts). */
export const COMMAND_WORDS: readonly string[] = COMMAND_NAMES;

/** The commands whose next word is a user name. */
const TAKES_NAME: ReadonlySet<string> = new Set(["send", "dereg", "reg"]);

/** What can complete the word before the cursor. */
export interface Completion {
  /** Where the word being completed starts (UTF-16 index into the line). */
  from: number;
  /** The words that start with it, in the order given. */
  candidates: string[];
}

/** Where {@linkcode completeWord} finds its words. */
export interface CompletionSource {
  /** The command words (default {@linkcode COMMAND_WORDS}). */
  commands?: readonly string[];
  /** The user names known now (the client's table). */
  names?: () => readonly string[];
}

/**
 * The candidates for the word before the cursor: commands for the first
 * word, user names for the word after `send`, `dereg` or `reg`, nothing
 * elsewhere (a message is free text).
 *
 * @param line The input line.
 * @param cursor The cursor, a UTF-16 index into the line.
 * @param source The commands and names.
 * @returns Where the word starts and what may complete it.
 *
 * @example Usage
 * ```ts
 * import { completeWord } from "./completion.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(completeWord("se", 2), { from: 0, candidates: ["send", "send_all"] });
 * assertEquals(
 *   completeWord("send us", 7, { names: () => ["userA", "userB", "bob"] }),
 *   { from: 5, candidates: ["userA", "userB"] },
 * );
 * ```
 */
export function completeWord(
  line: string,
  cursor: number,
  source: CompletionSource = {},
): Completion {
  const before = line.slice(0, cursor);
  const word = /\S*$/.exec(before)![0];
  const from = cursor - word.length;
  const words = before.slice(0, from).trim().split(/\s+/).filter((w) =>
    w !== ""
  );
  let pool: readonly string[] = [];
  if (words.length === 0) pool = source.commands ?? COMMAND_WORDS;
  else if (words.length === 1 && TAKES_NAME.has(words[0])) {
    pool = source.names?.() ?? [];
  }
  const candidates = [...new Set(pool)].filter((w) => w.startsWith(word));
  return { from, candidates };
}

/**
 * The longest text every candidate starts with.
 *
 * @param candidates Words.
 * @returns Their common prefix ("" for none).
 *
 * @example Usage
 * ```ts
 * import { commonPrefix } from "./completion.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(commonPrefix(["send", "send_all"]), "send");
 * ```
 */
export function commonPrefix(candidates: readonly string[]): string {
  if (candidates.length === 0) return "";
  let prefix = candidates[0];
  for (const c of candidates) {
    while (!c.startsWith(prefix)) {
      prefix = Array.from(prefix).slice(0, -1).join("");
    }
  }
  return prefix;
}
