/**
 * Parsing of the lines a person types into chat commands. Pure; the words
 * of `help` and of the usage errors are in `protocol/lines.ts`.
 *
 * @module
 */

/** The name of every chat command, in the order `help` lists them. */
export const COMMAND_NAMES = [
  "send",
  "send_all",
  "dereg",
  "reg",
  "help",
  "exit",
] as const;

/** A chat command's first word. */
export type CommandName = typeof COMMAND_NAMES[number];

/**
 * A parsed chat command: one of the commands, an empty line, a command
 * whose arguments are missing or extra (`usage`), or an unknown first word.
 */
export type Command =
  | { cmd: "send"; to: string; text: string }
  | { cmd: "send_all"; text: string }
  | { cmd: "dereg"; name: string }
  | { cmd: "reg"; name: string }
  | { cmd: "help" }
  | { cmd: "exit" }
  | { cmd: "empty" }
  | { cmd: "usage"; command: CommandName }
  | { cmd: "unknown"; word: string };

/**
 * Parses one typed line. The first token is the command; for `send` the
 * second is the recipient and everything after it, as typed from its first
 * non-space character (as for `send_all`), is the message.
 *
 * @param line The line, without its newline.
 * @returns The command, or why it is not one.
 *
 * @example Usage
 * ```ts
 * import { parseCommand } from "./commands.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(parseCommand("send userB hi  there"), { cmd: "send", to: "userB", text: "hi  there" });
 * assertEquals(parseCommand("send userB   hi"), parseCommand("send userB hi"));
 * ```
 */
export function parseCommand(line: string): Command {
  const trimmed = line.replace(/^\s+/, "").replace(/[\r\n]+$/, "");
  if (trimmed.trim() === "") return { cmd: "empty" };
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(trimmed)!;
  const word = m[1];
  const rest = m[2] ?? "";
  switch (word) {
    case "send": {
      // The spaces after the name separate, as after `send_all`: the
      // message starts at its first non-space character.
      const s = /^(\S+)(?:\s+([\s\S]*))?$/.exec(rest);
      if (s === null || s[2] === undefined || s[2].trim() === "") {
        return { cmd: "usage", command: "send" };
      }
      return { cmd: "send", to: s[1].normalize("NFC"), text: s[2] };
    }
    case "send_all":
      if (rest.trim() === "") {
        return { cmd: "usage", command: "send_all" };
      }
      return { cmd: "send_all", text: rest };
    case "dereg":
    case "reg": {
      const name = rest.trim();
      if (name === "" || /\s/.test(name)) {
        return { cmd: "usage", command: word };
      }
      return { cmd: word, name: name.normalize("NFC") };
    }
    case "help":
    case "exit":
      if (rest.trim() !== "") {
        return { cmd: "usage", command: word };
      }
      return { cmd: word };
    default:
      return { cmd: "unknown", word };
  }
}
