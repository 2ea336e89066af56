/**
 * A line editor as a pure state machine: keypresses in, submitted lines and
 * a redraw flag out. The terminal adapter owns raw mode and the screen.
 *
 * @module
 */
import { commonPrefix, type Completion } from "./completion.ts";
import { sanitize } from "./sanitize.ts";

/**
 * What the input completed: a line (which holds `\n` where a pasted block
 * had line ends), Ctrl+C, Ctrl+D on an empty line, Ctrl+L (clear the screen)
 * or a Tab with several ways to complete the word (show them).
 */
export type EditorAction =
  | { type: "line"; text: string }
  | { type: "interrupt" }
  | { type: "eof" }
  | { type: "clear" }
  | { type: "candidates"; candidates: string[] };

/** What {@linkcode LineEditor.feed} returns. */
export interface FeedResult {
  /** What the input completed, in order. */
  actions: EditorAction[];
  /** Whether the input line must be redrawn: it changed, or a line was submitted. */
  redraw: boolean;
}

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** How many submitted lines the history keeps (default 500). */
  historySize?: number;
  /**
   * Completes the word before the cursor on Tab (see `completeWord`).
   * Without it, Tab types a space.
   */
  complete?: (line: string, cursor: number) => Completion;
}

/** What shows a line end of a pasted block on the input line. */
export const LINE_END_MARK = "\u23ce";

/**
 * The input line as it is shown: `sanitize`d, with {@linkcode LINE_END_MARK}
 * for each line end. It has the same length in UTF-16 code units as the
 * text, so the cursor's index holds for both.
 *
 * @param text The editor's text.
 * @returns Text safe to print.
 *
 * @example Usage
 * ```ts
 * import { displayText } from "./line_editor.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(displayText("a\nb\u202e"), "a\u23ceb\ufffd");
 * ```
 */
export function displayText(text: string): string {
  return text.split("\n").map(sanitize).join(LINE_END_MARK);
}

const PASTE_END = "\x1b[201~";

// A CSI sequence (ESC [ params intermediates final), an SS3 sequence (ESC O x),
// or Alt plus a key; and the beginning of one, cut off at the end of a read.
// deno-lint-ignore no-control-regex -- terminal input is control sequences
const ESCAPE = /^\x1b(?:\[([0-?]*)[ -\/]*([@-~])|O([@-~])|([bdf\x7f]))/;
// deno-lint-ignore no-control-regex -- terminal input is control sequences
const ESCAPE_START = /^\x1b(?:\[[0-?]*[ -\/]*|O)?$/;
const SEGMENTER = new Intl.Segmenter();

/**
 * An input line with a cursor and a history, fed raw terminal input. The
 * cursor moves over, and Backspace and Delete remove, whole grapheme
 * clusters (an emoji with its skin tone, a flag, a ZWJ family, a letter with
 * its accents). A bracketed paste (`ESC [200~` ... `ESC [201~`) is inserted
 * as text, line ends included, and submits nothing.
 */
export class LineEditor {
  #text = "";
  #cursor = 0;
  #history: string[] = [];
  #historySize: number;
  #historyIndex = 0;
  #draft = "";
  #pending = "";
  #afterCr = false;
  #pasting = false;
  #decoder = new TextDecoder();
  #complete?: (line: string, cursor: number) => Completion;

  /**
   * An empty input line with an empty history.
   *
   * @param options The history size and Tab completion.
   */
  constructor(options: LineEditorOptions = {}) {
    this.#historySize = options.historySize ?? 500;
    this.#complete = options.complete;
  }

  /** The text typed so far. */
  get text(): string {
    return this.#text;
  }

  /** The cursor position, in UTF-16 code units into {@linkcode text}. */
  get cursor(): number {
    return this.#cursor;
  }

  /**
   * Feeds raw input: bytes (UTF-8, which may stop mid-character) or text.
   *
   * @param input What the terminal sent.
   * @returns The lines and signals it completed, and whether to redraw.
   */
  feed(input: string | Uint8Array): FeedResult {
    const before = [this.#text, this.#cursor];
    const actions: EditorAction[] = [];
    let s = this.#pending +
      (typeof input === "string"
        ? input
        : this.#decoder.decode(input, { stream: true }));
    this.#pending = "";
    while (s.length > 0) {
      if (this.#pasting) {
        s = this.#paste(s);
        continue;
      }
      if (s[0] === "\x1b") {
        const m = ESCAPE.exec(s);
        if (m === null && ESCAPE_START.test(s)) {
          this.#pending = s; // the rest comes with the next read
          break;
        }
        if (m !== null) {
          this.#escape(m[1] ?? "", m[2] ?? m[3] ?? `Alt+${m[4]}`);
        }
        s = s.slice(m === null ? 1 : m[0].length);
        this.#afterCr = false;
        continue;
      }
      const code = s.codePointAt(0)!;
      if (s.length === 1 && code >= 0xd800 && code <= 0xdbff) {
        this.#pending = s; // half a surrogate pair
        break;
      }
      const ch = String.fromCodePoint(code);
      s = s.slice(ch.length);
      const action = this.#key(ch);
      if (action !== undefined) actions.push(action);
    }
    const redraw = before[0] !== this.#text || before[1] !== this.#cursor ||
      actions.some((a) => a.type === "line"); // a fresh prompt on a new line
    return { actions, redraw };
  }

  // Inside a bracketed paste: everything up to its end is text. Returns
  // what is left of the input.
  #paste(s: string): string {
    const end = s.indexOf(PASTE_END);
    if (end >= 0) {
      this.#insert(pastedText(s.slice(0, end)));
      this.#pasting = false;
      return s.slice(end + PASTE_END.length);
    }
    // The end marker may be cut off at the end of this read.
    let keep = Math.min(s.length, PASTE_END.length - 1);
    while (keep > 0 && !PASTE_END.startsWith(s.slice(s.length - keep))) keep--;
    this.#insert(pastedText(s.slice(0, s.length - keep)));
    this.#pending = s.slice(s.length - keep);
    return "";
  }

  #insert(text: string): void {
    this.#text = this.#text.slice(0, this.#cursor) + text +
      this.#text.slice(this.#cursor);
    this.#cursor += text.length;
  }

  /**
   * The string that redraws the input line: clear it, write the prompt and
   * the text, and put the cursor back. The cursor is placed by writing the
   * text before it again, so the terminal's own idea of character widths
   * (wide CJK, emoji) decides where it lands.
   *
   * @param prompt The prompt before the text.
   * @returns ANSI text to write.
   */
  render(prompt: string): string {
    const text = displayText(this.#text);
    const line = `\r\x1b[2K${prompt}${text}`;
    if (this.#cursor === text.length) return line;
    return `${line}\r${prompt}${text.slice(0, this.#cursor)}`;
  }

  #key(ch: string): EditorAction | undefined {
    const afterCr = this.#afterCr;
    this.#afterCr = ch === "\r";
    switch (ch) {
      case "\n":
        if (afterCr) return undefined; // the second half of CRLF
        return this.#submit();
      case "\r":
        return this.#submit();
      case "\x03": // Ctrl+C
        return { type: "interrupt" };
      case "\x04": // Ctrl+D
        if (this.#text === "") return { type: "eof" };
        this.#delete(this.#cursor, this.#next());
        return undefined;
      case "\x7f":
      case "\b":
        this.#delete(this.#previous(), this.#cursor);
        return undefined;
      case "\x01": // Ctrl+A
        this.#cursor = 0;
        return undefined;
      case "\x05": // Ctrl+E
        this.#cursor = this.#text.length;
        return undefined;
      case "\x02": // Ctrl+B
        this.#cursor = this.#previous();
        return undefined;
      case "\x06": // Ctrl+F
        this.#cursor = this.#next();
        return undefined;
      case "\x10": // Ctrl+P
        return this.#recall(-1);
      case "\x0e": // Ctrl+N
        return this.#recall(1);
      case "\x0c": // Ctrl+L: clear the screen, redraw the line
        return { type: "clear" };
      case "\x15": // Ctrl+U: the whole line
        this.#set("");
        return undefined;
      case "\x0b": // Ctrl+K: to the end of the line
        this.#delete(this.#cursor, this.#text.length);
        return undefined;
      case "\x17": // Ctrl+W: the word before the cursor
        this.#delete(this.#wordStart(), this.#cursor);
        return undefined;
      case "\t":
        if (this.#complete === undefined) return this.#key(" ");
        return this.#tab(this.#complete);
      default: {
        const code = ch.codePointAt(0)!;
        if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return undefined;
        this.#insert(ch);
        return undefined;
      }
    }
  }

  // Tab: one candidate completes the word (and a space follows); several
  // extend it to what they share, or, when that adds nothing, are shown.
  #tab(
    complete: (line: string, cursor: number) => Completion,
  ): EditorAction | undefined {
    const { from, candidates } = complete(this.#text, this.#cursor);
    if (candidates.length === 0) return undefined;
    const word = this.#text.slice(from, this.#cursor);
    let insert: string;
    if (candidates.length === 1) {
      insert = candidates[0].slice(word.length);
      if (this.#text[this.#cursor] !== " ") insert += " ";
    } else {
      insert = commonPrefix(candidates).slice(word.length);
      if (insert === "") return { type: "candidates", candidates };
    }
    this.#insert(insert);
    return undefined;
  }

  #escape(params: string, final: string): void {
    const [first, modifier] = params.split(";");
    const word = Number(modifier) >= 3; // Alt or Ctrl with an arrow
    switch (final) {
      case "A":
        return this.#recall(-1);
      case "B":
        return this.#recall(1);
      case "C":
        this.#cursor = word ? this.#wordEnd() : this.#next();
        return;
      case "D":
        this.#cursor = word ? this.#wordStart() : this.#previous();
        return;
      case "Alt+f":
        this.#cursor = this.#wordEnd();
        return;
      case "Alt+b":
        this.#cursor = this.#wordStart();
        return;
      case "H":
        this.#cursor = 0;
        return;
      case "F":
        this.#cursor = this.#text.length;
        return;
      case "Alt+d": // Alt+D: the word after the cursor
        return this.#delete(this.#cursor, this.#wordEnd());
      case "Alt+\x7f": // Alt+Backspace
        return this.#delete(this.#wordStart(), this.#cursor);
      case "~":
        if (first === "200") this.#pasting = true;
        else if (first === "3") this.#delete(this.#cursor, this.#next());
        else if (first === "1" || first === "7") this.#cursor = 0;
        else if (first === "4" || first === "8") {
          this.#cursor = this.#text.length;
        }
        return;
    }
  }

  #submit(): EditorAction {
    const text = this.#text;
    if (text.trim() !== "" && this.#history.at(-1) !== text) {
      this.#history.push(text);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    this.#historyIndex = this.#history.length;
    this.#draft = "";
    this.#set("");
    return { type: "line", text };
  }

  // Up and Down walk the history; coming back down restores the draft.
  #recall(step: number): undefined {
    const next = this.#historyIndex + step;
    if (next < 0 || next > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.#text;
    this.#historyIndex = next;
    this.#set(
      next === this.#history.length ? this.#draft : this.#history[next],
    );
  }

  #set(text: string): void {
    this.#text = text;
    this.#cursor = text.length;
  }

  #delete(from: number, to: number): void {
    this.#text = this.#text.slice(0, from) + this.#text.slice(to);
    this.#cursor = from;
  }

  // The grapheme boundary before the cursor.
  #previous(): number {
    let at = 0;
    for (const { index } of SEGMENTER.segment(this.#text)) {
      if (index >= this.#cursor) break;
      at = index;
    }
    return at;
  }

  // The grapheme boundary after the cursor.
  #next(): number {
    for (const { index, segment } of SEGMENTER.segment(this.#text)) {
      if (index + segment.length > this.#cursor) return index + segment.length;
    }
    return this.#text.length;
  }

  #wordStart(): number {
    let i = this.#cursor;
    while (i > 0 && SPACE.test(this.#text[i - 1])) i--;
    while (i > 0 && !SPACE.test(this.#text[i - 1])) i--;
    return i;
  }

  #wordEnd(): number {
    let i = this.#cursor;
    while (i < this.#text.length && SPACE.test(this.#text[i])) i++;
    while (i < this.#text.length && !SPACE.test(this.#text[i])) i++;
    return i;
  }
}

const SPACE = /\s/;

// A pasted block as input-line text: line ends (CRLF, CR, LF) become LF,
// tabs spaces, other control characters are dropped.
function pastedText(text: string): string {
  return text.replace(/\r\n?/g, "\n").replaceAll("\t", " ")
    // deno-lint-ignore no-control-regex -- control characters are the point
    .replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g, "");
}
