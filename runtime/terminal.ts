/**
 * The client's terminal: a line editor when standard input and standard
 * output are both terminals (incoming lines appear above the input line, and
 * what is half typed stays put, however many rows it wraps to), plain lines
 * otherwise, or one JSON object per event.
 *
 * @module
 */
import { writeAll } from "./write_all.ts";
import { readLines } from "./stdin_lines.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { displayText, LineEditor } from "./line_editor.ts";
import { completeWord } from "./completion.ts";
import { formatLine, formatRows, PROMPT } from "./output_format.ts";
import { sanitize } from "./sanitize.ts";
import { wrapText } from "./wrap.ts";
import { displayWidth } from "./display_width.ts";

export { formatLine, PROMPT, sanitize };
export type { OutputEvent } from "../protocol/events.ts";

/** A terminal the client prints to and reads commands from. */
export interface Terminal {
  /** Prints one event. */
  print(event: OutputEvent): void;
  /**
   * The lines typed or piped in; ends with the input or at {@linkcode close}.
   * On a terminal, Ctrl+C (and Ctrl+D on an empty line, SIGHUP and SIGQUIT)
   * gives `"exit"` and ends. Call it once.
   */
  lines(): AsyncIterable<string>;
  /** Restores the terminal and stops reading. Safe to call twice. */
  close(): void;
}

/** The signals the interactive terminal handles (see {@linkcode SignalSource}). */
export type TerminalSignal =
  | "SIGWINCH"
  | "SIGCONT"
  | "SIGINT"
  | "SIGHUP"
  | "SIGQUIT";

/** Where the interactive terminal hears signals: `Deno.addSignalListener` or a fake. */
export interface SignalSource {
  /** Starts calling `handler` on `signal`. */
  add(signal: TerminalSignal, handler: () => void): void;
  /** Stops calling `handler` on `signal`. */
  remove(signal: TerminalSignal, handler: () => void): void;
}

/** Options for {@linkcode openTerminal}. */
export interface TerminalOptions {
  /** Print one JSON object per event (no colour, no prompt before events). */
  json: boolean;
  /** Colours on a TTY (default true; never when `NO_COLOR` is set). */
  color?: boolean;
  /** Bell on events that ask for one, on a TTY (default true). */
  bell?: boolean;
  /** The user names Tab completes after `send`, `dereg` and `reg`. */
  names?: () => readonly string[];
  /** Where input comes from (default stdin). */
  input?: ReadableStream<Uint8Array>;
  /** Writes output, completely and at once (default: stdout, synchronously). */
  output?: (text: string) => void;
  /** Whether the input is a TTY (default `Deno.stdin.isTerminal()`, or false with `input`). */
  isTerminal?: boolean;
  /** Whether the output is a TTY (default `Deno.stdout.isTerminal()`, or false with `output`). */
  outputIsTerminal?: boolean;
  /**
   * Switches the input TTY's raw mode (default `Deno.stdin.setRaw` in cbreak
   * mode, so that Ctrl+Z, Ctrl+C and Ctrl+\ send their signals; nothing with
   * `input`).
   */
  setRaw?: (raw: boolean) => void;
  /** The terminal's width in columns (default `Deno.consoleSize()`, or 80 with `input`). */
  columns?: () => number;
  /** Where signals come from (default `Deno.addSignalListener`, or none with `input`). */
  signals?: SignalSource;
  /**
   * Ask the terminal to mark pastes (`ESC [?2004h`), so a pasted block is
   * inserted as text and runs nothing (default true, false with `input`).
   */
  bracketedPaste?: boolean;
}

function writeStdout(text: string): void {
  writeAll(Deno.stdout, text);
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

const DENO_SIGNALS: SignalSource = {
  add: (signal, handler) => Deno.addSignalListener(signal, handler),
  remove: (signal, handler) => Deno.removeSignalListener(signal, handler),
};

const NO_SIGNALS: SignalSource = { add: () => {}, remove: () => {} };

/**
 * Opens the client's terminal. With a TTY on both sides it edits the input
 * line in raw mode and prints events (text or JSON) above it; otherwise it
 * reads plain lines and prints plain lines (or JSON): a piped standard
 * output gets no carriage returns, erase sequences, echoes or bells.
 *
 * @param options Output format, colour, bell, names to complete, and (for
 * tests) the streams, the width and the signals.
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
  if (!inTty || !outTty) return new PlainTerminal(io, options.json);
  const unix = Deno.build.os !== "windows";
  return new InteractiveTerminal(io, {
    json: options.json,
    setRaw: options.setRaw ??
      (injected
        ? () => {}
        : (raw: boolean) => Deno.stdin.setRaw(raw, { cbreak: unix })),
    bell: options.bell !== false,
    names: options.names,
    columns: options.columns ?? (injected ? () => 80 : consoleColumns),
    signals: options.signals ??
      (injected || !unix ? NO_SIGNALS : DENO_SIGNALS),
    bracketedPaste: options.bracketedPaste ?? !injected,
  });
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

/**
 * Where the input block (prompt and input line, over one or more rows) is on
 * screen, and the strings that erase and redraw it in place. It always sits
 * at the bottom: events are printed over it and it is drawn again below.
 */
class InputBlock {
  /** Rows the block takes. */
  #rows = 1;
  /** The row of the block the terminal's cursor is on. */
  #cursorRow = 0;
  /** The cursor's column, and each row's width, for a resize. */
  #cursorCol = 0;
  #widths: number[] = [0];
  columns: number;

  constructor(columns: number) {
    this.columns = columns;
  }

  /** Moves to the block's first row and erases it and everything below. */
  erase(): string {
    const up = this.#cursorRow > 0 ? `\x1b[${this.#cursorRow}A` : "";
    const clear = this.#rows > 1 ? "\x1b[J" : "\x1b[2K";
    this.#rows = 1;
    this.#cursorRow = 0;
    return `${up}\r${clear}`;
  }

  /** Draws the block from its first row, the cursor at `cursor`. */
  draw(text: string, cursor?: number): string {
    const w = wrapText(text, { columns: this.columns, prompt: PROMPT, cursor });
    let out = w.rows.map((r) => r.prefix + r.text).join("\r\n");
    if (cursor !== undefined && cursor < text.length) {
      // Back to the cursor's row, then write what is before it again, so the
      // terminal's own idea of character widths places the cursor.
      const up = w.end.row - w.cursor.row;
      out += `${up > 0 ? `\x1b[${up}A` : ""}\r${w.cursor.before}`;
    }
    this.#rows = w.rows.length;
    this.#cursorRow = w.cursor.row;
    this.#cursorCol = w.cursor.col;
    this.#widths = w.rows.map((r) => displayWidth(r.prefix + r.text));
    return out;
  }

  /** Forgets the block: the cursor is at the start of a fresh row. */
  reset(): void {
    this.#rows = 1;
    this.#cursorRow = 0;
  }

  /**
   * The terminal is now `columns` wide. Terminals that reflow (tmux, VTE,
   * iTerm2, kitty, Windows Terminal) split each row wider than that over
   * several: count them to find the block's first row again.
   */
  resize(columns: number): void {
    if (columns < this.columns) {
      const split = (width: number) => Math.max(1, Math.ceil(width / columns));
      let above = 0;
      for (let r = 0; r < this.#cursorRow; r++) above += split(this.#widths[r]);
      above += Math.floor(Math.min(this.#cursorCol, columns - 1) / columns);
      this.#cursorRow = above;
      this.#rows = Math.max(2, this.#rows);
    }
    this.columns = columns;
  }
}

interface InteractiveOptions {
  json: boolean;
  setRaw: (raw: boolean) => void;
  bell: boolean;
  names?: () => readonly string[];
  columns: () => number;
  signals: SignalSource;
  bracketedPaste: boolean;
}

// A multi-line paste may only be a message.
const TAKES_TEXT = /^\s*(send|send_all)\s/;

class InteractiveTerminal implements Terminal {
  #io: Io;
  #options: InteractiveOptions;
  #editor: LineEditor;
  #block: InputBlock;
  #closed = false;
  /** Set by a signal that ends the session: the mark to show after the line. */
  #ending?: string;
  /** SIGHUP: the terminal is gone, write nothing more. */
  #hungUp = false;
  #restore = () => {
    this.#write(this.#pasteMode(false));
    this.#unraw();
  };
  #handlers: [TerminalSignal, () => void][];

  constructor(io: Io, options: InteractiveOptions) {
    this.#io = io;
    this.#options = options;
    this.#editor = new LineEditor({
      complete: (line, cursor) =>
        completeWord(line, cursor, { names: options.names }),
    });
    this.#block = new InputBlock(options.columns());
    this.#raw();
    globalThis.addEventListener("unload", this.#restore);
    this.#handlers = [
      ["SIGWINCH", () => this.#resize()],
      ["SIGCONT", () => this.#resume()],
      ["SIGINT", () => this.#end("^C")],
      ["SIGHUP", () => this.#end("", { hungUp: true, restore: true })],
      ["SIGQUIT", () => this.#end("^\\", { restore: true })],
    ];
    for (const [signal, handler] of this.#handlers) {
      options.signals.add(signal, handler);
    }
    this.#write(this.#redraw());
  }

  print(event: OutputEvent): void {
    const { color } = this.#io;
    if (this.#closed) {
      return this.#write(
        `${formatLine(event, { json: this.#options.json, color })}\n`,
      );
    }
    const rows = this.#options.json
      ? [formatLine(event, { json: true })]
      : formatRows(event, { color, columns: this.#block.columns });
    const bell = event.bell && this.#options.bell && !this.#options.json
      ? "\x07"
      : "";
    // Erase the input, print above it, then draw the input again as it was.
    this.#write(
      `${this.#block.erase()}${rows.join("\r\n")}\r\n${bell}${this.#redraw()}`,
    );
  }

  async *lines(): AsyncGenerator<string> {
    for await (const chunk of this.#io.input.chunks()) {
      const { actions, redraw } = this.#editor.feed(chunk);
      for (const action of actions) {
        switch (action.type) {
          case "line": {
            // Leave the line on screen as typed, as a terminal does.
            this.#write(this.#final(action.text));
            const text = action.text.replace(/\n+$/, "");
            if (text.includes("\n") && !TAKES_TEXT.test(text)) {
              this.print({
                kind: "error",
                event: "usage",
                text:
                  "[Several lines pasted: only send and send_all take them. Nothing was run.]",
              });
              continue;
            }
            yield text;
            break;
          }
          case "clear":
            this.#block.reset();
            this.#write(`\x1b[H\x1b[2J${this.#draw()}`);
            break;
          case "candidates":
            this.#write(
              `${this.#block.erase()}${
                action.candidates.map(sanitize).join("  ")
              }\r\n${this.#redraw()}`,
            );
            break;
          default:
            // Ctrl+C, or Ctrl+D on an empty line: the `exit` command.
            this.#write(
              this.#final(
                this.#editor.text,
                action.type === "interrupt" ? "^C" : "",
              ),
            );
            yield "exit";
            return;
        }
      }
      if (redraw && !this.#closed) {
        this.#write(this.#redraw());
      }
    }
    if (this.#ending !== undefined) {
      this.#write(this.#final(this.#editor.text, this.#ending));
      yield "exit";
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [signal, handler] of this.#handlers) {
      this.#options.signals.remove(signal, handler);
    }
    this.#write(this.#block.erase() + this.#pasteMode(false));
    this.#unraw();
    this.#io.input.stop();
  }

  // Erases the input block and draws it again.
  #redraw(): string {
    return `${this.#block.erase()}${this.#draw()}`;
  }

  // The input block, drawn from its first row.
  #draw(): string {
    return this.#block.draw(
      displayText(this.#editor.text),
      this.#editor.cursor,
    );
  }

  // The input as submitted (or abandoned), left on screen; the next block
  // starts on a fresh row.
  #final(text: string, mark = ""): string {
    const out = `${this.#block.erase()}${
      this.#block.draw(displayText(text) + mark)
    }\r\n`;
    this.#block.reset();
    return out;
  }

  #write(text: string): void {
    if (this.#hungUp) return;
    try {
      this.#io.write(text);
    } catch {
      // The terminal is gone (hung up, or closed under us).
    }
  }

  #pasteMode(on: boolean): string {
    if (!this.#options.bracketedPaste) return "";
    return on ? "\x1b[?2004h" : "\x1b[?2004l";
  }

  #raw(): void {
    this.#options.setRaw(true);
    this.#write(this.#pasteMode(true));
  }

  #resize(): void {
    if (this.#closed) return;
    const columns = this.#options.columns();
    if (columns === this.#block.columns) return;
    this.#block.resize(columns);
    this.#write(this.#redraw());
  }

  // Back from Ctrl+Z (`fg`): the shell has put the terminal back in cooked
  // mode and the cursor on a fresh row. Raw mode again, and the input again.
  #resume(): void {
    if (this.#closed) return;
    try {
      this.#raw();
    } catch {
      // Still in the background (`bg`): the next SIGCONT will do it.
      return;
    }
    this.#block.columns = this.#options.columns();
    this.#block.reset();
    this.#write(this.#redraw());
  }

  // A signal that ends the session: SIGINT ends it as Ctrl+C does; SIGHUP
  // and SIGQUIT restore the terminal at once (the process may get no other
  // chance). Then lines() ends with `exit`.
  #end(
    mark: string,
    options: { hungUp?: boolean; restore?: boolean } = {},
  ): void {
    if (this.#closed || this.#ending !== undefined) return;
    this.#ending = mark;
    if (options.hungUp) this.#hungUp = true;
    if (options.restore) this.#restore();
    this.#io.input.stop();
  }

  #unraw(): void {
    globalThis.removeEventListener("unload", this.#restore);
    try {
      this.#options.setRaw(false);
    } catch {
      // stdin already gone.
    }
  }
}
