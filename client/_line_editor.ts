// A line editor as a pure state machine: keypresses in, submitted lines and a
// redraw string out. The terminal adapter owns raw mode and the screen.

/** What a keypress did. */
export type EditorAction =
  | { type: "line"; text: string }
  | { type: "interrupt" }
  | { type: "eof" };

const HISTORY_MAX = 500;

/** An input line with a cursor and a history, fed raw terminal input. */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #draft: string[] = [];
  #pending = "";

  /** The text typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor position, in code points. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Feeds raw input (already decoded from UTF-8); returns what it completed. */
  feed(input: string): EditorAction[] {
    const actions: EditorAction[] = [];
    let s = this.#pending + input;
    this.#pending = "";
    while (s.length > 0) {
      if (s[0] === "\x1b") {
        // deno-lint-ignore no-control-regex -- terminal escape sequences
        const m = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(s);
        if (m === null) {
          // An incomplete escape sequence: wait for the rest.
          // deno-lint-ignore no-control-regex -- terminal escape sequences
          if (/^\x1b(\[[0-9;]*|O)?$/.test(s)) {
            this.#pending = s;
            break;
          }
          s = s.slice(1);
          continue;
        }
        this.#escape(m[0]);
        s = s.slice(m[0].length);
        continue;
      }
      const ch = String.fromCodePoint(s.codePointAt(0)!);
      s = s.slice(ch.length);
      const action = this.#key(ch);
      if (action !== undefined) actions.push(action);
    }
    return actions;
  }

  /** The string that redraws the input line: prompt, text, cursor in place. */
  render(prompt: string): string {
    const back = this.#chars.length - this.#cursor;
    return `\r\x1b[2K${prompt}${this.text}${back > 0 ? `\x1b[${back}D` : ""}`;
  }

  #key(ch: string): EditorAction | undefined {
    switch (ch) {
      case "\r":
      case "\n": {
        const text = this.text;
        if (text.trim() !== "" && this.#history.at(-1) !== text) {
          this.#history.push(text);
          if (this.#history.length > HISTORY_MAX) this.#history.shift();
        }
        this.#historyIndex = this.#history.length;
        this.#set([]);
        return { type: "line", text };
      }
      case "\x03":
        return { type: "interrupt" };
      case "\x04":
        if (this.#chars.length === 0) return { type: "eof" };
        this.#chars.splice(this.#cursor, 1);
        return undefined;
      case "\x7f":
      case "\b":
        if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
        return undefined;
      case "\x01":
        this.#cursor = 0;
        return undefined;
      case "\x05":
        this.#cursor = this.#chars.length;
        return undefined;
      case "\x15":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return undefined;
      case "\x17": {
        let i = this.#cursor;
        while (i > 0 && this.#chars[i - 1] === " ") i--;
        while (i > 0 && this.#chars[i - 1] !== " ") i--;
        this.#chars.splice(i, this.#cursor - i);
        this.#cursor = i;
        return undefined;
      }
      case "\t":
        return this.#key(" ");
      default:
        if (ch.codePointAt(0)! < 0x20 || ch === "\x7f") return undefined;
        this.#chars.splice(this.#cursor++, 0, ch);
        return undefined;
    }
  }

  #escape(seq: string): void {
    const final = seq.at(-1);
    switch (final) {
      case "D":
        if (this.#cursor > 0) this.#cursor--;
        return;
      case "C":
        if (this.#cursor < this.#chars.length) this.#cursor++;
        return;
      case "H":
        this.#cursor = 0;
        return;
      case "F":
        this.#cursor = this.#chars.length;
        return;
      case "A":
        return this.#recall(-1);
      case "B":
        return this.#recall(1);
      case "~":
        if (seq === "\x1b[3~") this.#chars.splice(this.#cursor, 1);
        else if (seq === "\x1b[1~" || seq === "\x1b[7~") this.#cursor = 0;
        else if (seq === "\x1b[4~" || seq === "\x1b[8~") {
          this.#cursor = this.#chars.length;
        }
        return;
    }
  }

  // Up and down walk the history; coming back down restores the draft.
  #recall(step: number): void {
    const next = this.#historyIndex + step;
    if (next < 0 || next > this.#history.length) return;
    if (this.#historyIndex === this.#history.length) this.#draft = this.#chars;
    this.#historyIndex = next;
    this.#set(
      next === this.#history.length ? this.#draft : [...this.#history[next]],
    );
  }

  #set(chars: string[]): void {
    this.#chars = [...chars];
    this.#cursor = this.#chars.length;
  }
}
