/**
 * The client's terminal: a line editor on a TTY (incoming lines appear above
 * the input line, and what is half typed stays put), plain lines when piped,
 * or one JSON object per event.
 *
 * @module
 */
import { readLines } from "../cli/stdin_lines.ts";
import type { EventKind, OutputEvent } from "../protocol/events.ts";
import { LineEditor } from "./_line_editor.ts";

/** The prompt, as the seed prints it. */
export const PROMPT = ">>> ";

/** A terminal the client prints to and reads commands from. */
export interface Terminal {
  /** Prints one event. */
  print(event: OutputEvent): void;
  /** The lines typed or piped in; ends with the input. */
  lines(): AsyncIterable<string>;
  /** Restores the terminal. */
  close(): void;
}

/** Options for {@linkcode openTerminal}. */
export interface TerminalOptions {
  /** Print one JSON object per event. */
  json: boolean;
  /** Colours on a TTY (default true; never when `NO_COLOR` is set). */
  color?: boolean;
  /** Bell on an incoming private message, on a TTY (default true). */
  bell?: boolean;
}

const SGR: Record<EventKind, string> = {
  status: "\x1b[36m",
  table: "\x1b[2m",
  incoming: "\x1b[1m",
  own: "\x1b[32m",
  notice: "\x1b[33m",
  error: "\x1b[31m",
};

/**
 * Replaces control characters, which could drive the terminal, with U+FFFD;
 * a tab becomes a space. Other text is untouched.
 *
 * @param text Text from the network.
 * @returns Text safe to print.
 *
 * @example Usage
 * ```ts
 * import { sanitize } from "./terminal.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(sanitize("a\x1b[2Jb\tc é"), "a\ufffd[2Jb c é");
 * ```
 */
export function sanitize(text: string): string {
  let out = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 9) out += " ";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += "\ufffd";
    else out += ch;
  }
  return out;
}

/**
 * Formats one event as a line, without the newline.
 *
 * @param event The event.
 * @param options `json`: a JSON object; `color`: SGR colours by kind.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { formatLine } from "./terminal.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const e = { kind: "incoming" as const, event: "message", text: "userA: hi" };
 * assertEquals(formatLine(e), ">>> userA: hi");
 * assertEquals(formatLine(e, { color: true }), ">>> \x1b[1muserA: hi\x1b[0m");
 * ```
 */
export function formatLine(
  event: OutputEvent,
  options: { json?: boolean; color?: boolean } = {},
): string {
  if (options.json) {
    return JSON.stringify({
      event: event.event,
      kind: event.kind,
      text: event.text,
      ...event.data,
    });
  }
  const text = sanitize(event.text);
  return options.color
    ? `${PROMPT}${SGR[event.kind]}${text}\x1b[0m`
    : `${PROMPT}${text}`;
}

const encoder = new TextEncoder();

function writeAll(text: string): void {
  const bytes = encoder.encode(text);
  let n = 0;
  while (n < bytes.length) n += Deno.stdout.writeSync(bytes.subarray(n));
}

/**
 * Opens the process's terminal: interactive when stdin is a TTY (and not
 * `--json`), else line by line.
 *
 * @param options Output format, colour and bell.
 * @returns The terminal.
 */
export function openTerminal(options: TerminalOptions): Terminal {
  const tty = !options.json && Deno.stdin.isTerminal();
  const color = !options.json && options.color !== false && !Deno.noColor &&
    Deno.stdout.isTerminal();
  if (!tty) {
    return {
      print: (e) =>
        writeAll(formatLine(e, { json: options.json, color }) + "\n"),
      lines: () => readLines(Deno.stdin.readable),
      close: () => {},
    };
  }
  return new InteractiveTerminal(color, options.bell !== false);
}

class InteractiveTerminal implements Terminal {
  #editor = new LineEditor();
  #color: boolean;
  #bell: boolean;
  #closed = false;

  constructor(color: boolean, bell: boolean) {
    this.#color = color;
    this.#bell = bell;
    Deno.stdin.setRaw(true, { cbreak: true });
    writeAll(this.#editor.render(PROMPT));
  }

  print(event: OutputEvent): void {
    if (this.#closed) return;
    const bell = event.bell && this.#bell ? "\x07" : "";
    // Clear the input line, print above it, then put the input back as it was.
    writeAll(
      `\r\x1b[2K${formatLine(event, { color: this.#color })}\n${bell}${
        this.#editor.render(PROMPT)
      }`,
    );
  }

  async *lines(): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    for await (const chunk of Deno.stdin.readable) {
      for (
        const action of this.#editor.feed(
          decoder.decode(chunk, { stream: true }),
        )
      ) {
        if (action.type === "line") {
          // Keep what was typed on screen, as a normal terminal does.
          writeAll(`\r\x1b[2K${PROMPT}${sanitize(action.text)}\n`);
          yield action.text;
        } else {
          // Ctrl+C, or Ctrl+D on an empty line: quit without deregistering.
          yield "exit";
          return;
        }
      }
      writeAll(this.#editor.render(PROMPT));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    writeAll("\r\x1b[2K");
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin already gone.
    }
  }
}
