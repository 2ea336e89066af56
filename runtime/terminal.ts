/**
 * The client's terminal: a line editor on a TTY (incoming lines appear above
 * the input line, and what is half typed stays put), plain lines when piped,
 * or one JSON object per event.
 *
 * @module
 */
import { readLines } from "./stdin_lines.ts";
import type { EventKind, OutputEvent } from "../protocol/events.ts";
import { LineEditor } from "./line_editor.ts";

/** The prompt, as the seed prints it. */
export const PROMPT = ">>> ";

/** A terminal the client prints to and reads commands from. */
export interface Terminal {
  /** Prints one event. */
  print(event: OutputEvent): void;
  /**
   * The lines typed or piped in; ends with the input or at {@linkcode close}.
   * On a TTY, Ctrl+C (and Ctrl+D on an empty line) gives `"exit"` and ends.
   * Call it once.
   */
  lines(): AsyncIterable<string>;
  /** Restores the terminal and stops reading. Safe to call twice. */
  close(): void;
}

/** Options for {@linkcode openTerminal}. */
export interface TerminalOptions {
  /** Print one JSON object per event (no prompt, no colour, no line editor). */
  json: boolean;
  /** Colours on a TTY (default true; never when `NO_COLOR` is set). */
  color?: boolean;
  /** Bell on events that ask for one, on a TTY (default true). */
  bell?: boolean;
  /** Where input comes from (default stdin). */
  input?: ReadableStream<Uint8Array>;
  /** Writes output, completely and at once (default: stdout, synchronously). */
  output?: (text: string) => void;
  /** Whether the input is a TTY (default `Deno.stdin.isTerminal()`, or false with `input`). */
  isTerminal?: boolean;
  /** Whether the output is a TTY (default `Deno.stdout.isTerminal()`, or false with `output`). */
  outputIsTerminal?: boolean;
  /** Switches the input TTY's raw mode (default `Deno.stdin.setRaw`, or nothing with `input`). */
  setRaw?: (raw: boolean) => void;
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
 * Replaces control characters (C0, DEL and C1), which could drive the
 * terminal, with U+FFFD; a tab becomes a space. Other text is untouched.
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
  // deno-lint-ignore no-control-regex -- control characters are the point
  return text.replaceAll("\t", " ").replace(/[\x00-\x1f\x7f-\x9f]/g, "\ufffd");
}

/**
 * Formats one event as a line, without the newline: `>>> ` and the sanitised
 * text (coloured by kind if asked), or a JSON object with `event`, `kind`,
 * `text` and the event's data.
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
    const { event: name, kind, text, data } = event;
    // JSON.stringify leaves DEL and C1 controls raw; escape them too.
    return JSON.stringify({ event: name, kind, text, ...data }).replace(
      /[\x7f-\x9f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  const text = sanitize(event.text);
  return options.color
    ? `${PROMPT}${SGR[event.kind]}${text}\x1b[0m`
    : `${PROMPT}${text}`;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let n = 0;
  while (n < bytes.length) n += Deno.stdout.writeSync(bytes.subarray(n));
}

/**
 * Opens the client's terminal. With a TTY on both sides (and not `json`) it
 * edits the input line in raw mode and prints events above it; otherwise it
 * reads plain lines and prints plain lines (or JSON).
 *
 * @param options Output format, colour, bell, and (for tests) the streams.
 * @returns The terminal.
 */
export function openTerminal(options: TerminalOptions): Terminal {
  const injected = options.input !== undefined;
  const inTty = options.isTerminal ?? (!injected && Deno.stdin.isTerminal());
  const outTty = options.outputIsTerminal ??
    (options.output === undefined && Deno.stdout.isTerminal());
  const io: Io = {
    input: new Input(() => options.input ?? Deno.stdin.readable),
    write: options.output ?? writeStdout,
    color: !options.json && options.color !== false && !Deno.noColor && outTty,
  };
  if (options.json || !inTty || !outTty) {
    return new PlainTerminal(io, options.json);
  }
  const setRaw = options.setRaw ??
    (injected ? () => {} : (raw: boolean) => Deno.stdin.setRaw(raw));
  return new InteractiveTerminal(io, setRaw, options.bell !== false);
}

interface Io {
  input: Input;
  write: (text: string) => void;
  color: boolean;
}

// The input's chunks, until it ends or is stopped.
class Input {
  #open: () => ReadableStream<Uint8Array>;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #stopped = false;

  constructor(open: () => ReadableStream<Uint8Array>) {
    this.#open = open;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.#stopped) return;
    const reader = this.#reader = this.#open().getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#stopped) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#reader?.cancel().catch(() => {});
  }
}

class PlainTerminal implements Terminal {
  #io: Io;
  #json: boolean;

  constructor(io: Io, json: boolean) {
    this.#io = io;
    this.#json = json;
  }

  print(event: OutputEvent): void {
    const { color, write } = this.#io;
    write(formatLine(event, { json: this.#json, color }) + "\n");
  }

  lines(): AsyncIterable<string> {
    return readLines(ReadableStream.from(this.#io.input.chunks()));
  }

  close(): void {
    this.#io.input.stop();
  }
}

class InteractiveTerminal implements Terminal {
  #io: Io;
  #setRaw: (raw: boolean) => void;
  #bell: boolean;
  #editor = new LineEditor();
  #closed = false;
  #restore = () => this.#unraw();

  constructor(io: Io, setRaw: (raw: boolean) => void, bell: boolean) {
    this.#io = io;
    this.#setRaw = setRaw;
    this.#bell = bell;
    setRaw(true);
    globalThis.addEventListener("unload", this.#restore);
    io.write(this.#editor.render(PROMPT));
  }

  print(event: OutputEvent): void {
    const line = formatLine(event, { color: this.#io.color });
    if (this.#closed) return this.#io.write(`${line}\n`);
    const bell = event.bell && this.#bell ? "\x07" : "";
    // Clear the input line, print above it, then put the input back as it was.
    this.#io.write(
      `\r\x1b[2K${line}\r\n${bell}${this.#editor.render(PROMPT)}`,
    );
  }

  async *lines(): AsyncGenerator<string> {
    for await (const chunk of this.#io.input.chunks()) {
      const { actions, redraw } = this.#editor.feed(chunk);
      for (const action of actions) {
        if (action.type === "line") {
          // Leave the line on screen as typed, as a terminal does.
          this.#io.write(`\r\x1b[2K${PROMPT}${sanitize(action.text)}\r\n`);
          yield action.text;
        } else {
          // Ctrl+C, or Ctrl+D on an empty line: the `exit` command.
          const mark = action.type === "interrupt" ? "^C" : "";
          const text = sanitize(this.#editor.text);
          this.#io.write(`\r\x1b[2K${PROMPT}${text}${mark}\r\n`);
          yield "exit";
          return;
        }
      }
      if (redraw && !this.#closed) this.#io.write(this.#editor.render(PROMPT));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#io.write("\r\x1b[2K");
    this.#unraw();
    this.#io.input.stop();
  }

  #unraw(): void {
    globalThis.removeEventListener("unload", this.#restore);
    try {
      this.#setRaw(false);
    } catch {
      // stdin already gone.
    }
  }
}
