/**
 * Parsing of the lines a person types into chat commands. Pure.
 *
 * @module
 */

/** A parsed chat command. */
export type Command =
  | { cmd: "send"; to: string; text: string }
  | { cmd: "send_all"; text: string }
  | { cmd: "dereg"; name: string }
  | { cmd: "reg"; name: string }
  | { cmd: "help" }
  | { cmd: "exit" }
  | { cmd: "empty" }
  | { cmd: "invalid"; error: string };

/** Every command with an example, as `help` prints it. */
export const COMMAND_HELP: readonly string[] = [
  "send NAME MESSAGE   private message, peer to peer   e.g. send userB hi there",
  "send_all MESSAGE    group message through the server  e.g. send_all hello all",
  "dereg NAME          go Offline (your own name)        e.g. dereg userA",
  "reg NAME            come back Online                  e.g. reg userA",
  "help                this list",
  "exit                quit without deregistering (as Ctrl+C)",
];

/**
 * Parses one typed line. The first token is the command; for `send` the
 * second is the recipient and everything after it, as typed, is the message.
 *
 * @param line The line, without its newline.
 * @returns The command, or why it is invalid.
 *
 * @example Usage
 * ```ts
 * import { parseCommand } from "./commands.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(parseCommand("send userB hi  there"), { cmd: "send", to: "userB", text: "hi  there" });
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
      const s = /^(\S+)(?:\s([\s\S]*))?$/.exec(rest);
      if (s === null || s[2] === undefined || s[2].trim() === "") {
        return { cmd: "invalid", error: "[Usage: send NAME MESSAGE]" };
      }
      return { cmd: "send", to: s[1], text: s[2] };
    }
    case "send_all":
      if (rest.trim() === "") {
        return { cmd: "invalid", error: "[Usage: send_all MESSAGE]" };
      }
      return { cmd: "send_all", text: rest };
    case "dereg":
    case "reg": {
      const name = rest.trim();
      if (name === "" || /\s/.test(name)) {
        return { cmd: "invalid", error: `[Usage: ${word} NAME]` };
      }
      return { cmd: word, name };
    }
    case "help":
    case "exit":
      if (rest.trim() !== "") {
        return { cmd: "invalid", error: `[Usage: ${word}]` };
      }
      return { cmd: word };
    default:
      return {
        cmd: "invalid",
        error: `[Unknown command: ${word}. Type help for the list.]`,
      };
  }
}
