import { LineEditor } from "../runtime/line_editor.ts";
import {
  formatLine,
  openTerminal,
  sanitize,
  type TerminalOptions,
} from "../runtime/terminal.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { formatRows } from "../runtime/output_format.ts";
import { wrapText } from "../runtime/wrap.ts";
import { displayWidth } from "../runtime/display_width.ts";
import { completeWord } from "../runtime/completion.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";

const encode = (s: string) => new TextEncoder().encode(s);
// deno-lint-ignore no-control-regex -- looking for colour codes
const SGR = /\x1b\[[0-9;]*m/;

// --- The line editor -------------------------------------------------------

Deno.test("LineEditor: typing, Backspace, Delete, Left/Right, Home/End", () => {
  const e = new LineEditor();
  assertEquals(e.feed("send userB hx"), { actions: [], redraw: true });
  e.feed("\x7f"); // Backspace
  e.feed("i");
  e.feed("\x1b[D\x1b[D"); // Left, Left
  e.feed("X");
  assertEquals(e.text, "send userB Xhi");
  assertEquals(e.cursor, 12);
  e.feed("\x1b[3~"); // Delete
  assertEquals(e.text, "send userB Xi");
  e.feed("\x1b[C\x1b[C\x1b[C"); // Right stops at the end
  assertEquals(e.cursor, 13);
  e.feed("\x01"); // Ctrl+A
  e.feed("> ");
  e.feed("\x05"); // Ctrl+E
  e.feed("!");
  e.feed("\x1b[H"); // Home
  assertEquals(e.cursor, 0);
  e.feed("\x1bOF"); // End (application mode)
  assertEquals(e.cursor, e.text.length);
  assertEquals(e.feed("\r"), {
    actions: [{ type: "line", text: "> send userB Xi!" }],
    redraw: true,
  });
  assertEquals(e.text, "");
});

Deno.test("LineEditor: redraw only when the line changes or is submitted", () => {
  const e = new LineEditor();
  assertEquals(e.feed("\x1b[D").redraw, false); // Left at the start
  assertEquals(e.feed("\x7f").redraw, false); // Backspace at the start
  assertEquals(e.feed("a").redraw, true);
  assertEquals(e.feed("\x1b[D").redraw, true);
  assertEquals(e.feed("\x1b[D").redraw, false);
  e.feed("\x15");
  // Enter on an empty line still needs a fresh prompt.
  assertEquals(e.feed("\r"), {
    actions: [{ type: "line", text: "" }],
    redraw: true,
  });
});

Deno.test("LineEditor: history, and the half-typed draft comes back on the way down", () => {
  const e = new LineEditor();
  e.feed("first\rsecond\r   \rsecond\r");
  e.feed("draft");
  e.feed("\x1b[A");
  assertEquals(e.text, "second"); // blank and repeated lines are not kept
  e.feed("\x1b[A");
  assertEquals(e.text, "first");
  e.feed("\x1b[A"); // already at the oldest
  assertEquals(e.text, "first");
  e.feed("\x1b[B");
  assertEquals(e.text, "second");
  e.feed("\x1b[B");
  assertEquals(e.text, "draft");
  assertEquals(e.cursor, 5);
  e.feed("\x1b[B"); // already at the draft
  assertEquals(e.text, "draft");
  e.feed("\x10"); // Ctrl+P
  assertEquals(e.feed("\r").actions, [{ type: "line", text: "second" }]);
});

Deno.test("LineEditor: the history keeps at most historySize lines", () => {
  const e = new LineEditor({ historySize: 2 });
  e.feed("a\rb\rc\r\x1b[A\x1b[A\x1b[A");
  assertEquals(e.text, "b");
});

Deno.test("LineEditor: UTF-8 split across reads, one byte at a time", () => {
  const e = new LineEditor();
  for (const byte of encode("héllo 中文 👋\r")) {
    const { actions } = e.feed(new Uint8Array([byte]));
    if (actions.length > 0) {
      assertEquals(actions, [{ type: "line", text: "héllo 中文 👋" }]);
      return;
    }
  }
  throw new Error("the line was never submitted");
});

Deno.test("LineEditor: escape sequences and surrogate pairs split across reads", () => {
  const e = new LineEditor();
  e.feed("ab");
  e.feed("\x1b");
  e.feed("[");
  assertEquals(e.cursor, 2);
  e.feed("D");
  assertEquals(e.cursor, 1);
  const wave = "👋";
  e.feed(wave[0]);
  e.feed(wave[1]);
  assertEquals(e.text, "a👋b");
  assertEquals(e.cursor, 3);
});

Deno.test("LineEditor: the cursor moves over and deletes whole graphemes", () => {
  const e = new LineEditor();
  e.feed("x👍🏽e\u0301");
  e.feed("\x1b[D");
  assertEquals(e.cursor, "x👍🏽".length);
  e.feed("\x1b[D");
  assertEquals(e.cursor, 1);
  e.feed("\x1b[3~"); // Delete takes the thumb with its skin tone
  assertEquals(e.text, "xe\u0301");
  e.feed("\x05\x7f"); // End, Backspace takes e and its accent
  assertEquals(e.text, "x");
});

Deno.test("LineEditor: a pasted block submits each line; CRLF is one line end", () => {
  const e = new LineEditor();
  assertEquals(e.feed("a\nb\r\nc\r").actions, [
    { type: "line", text: "a" },
    { type: "line", text: "b" },
    { type: "line", text: "c" },
  ]);
  // The LF of a CRLF in the next read is still part of it.
  assertEquals(e.feed("\nd").actions, []);
  assertEquals(e.text, "d");
  // An empty line between two LFs is a line.
  assertEquals(e.feed("\n\n").actions, [
    { type: "line", text: "d" },
    { type: "line", text: "" },
  ]);
});

Deno.test("LineEditor: Ctrl+U, Ctrl+W, Ctrl+K, word moves", () => {
  const e = new LineEditor();
  e.feed("send userB two words  ");
  e.feed("\x17"); // Ctrl+W
  assertEquals(e.text, "send userB two ");
  e.feed("\x1b[1;5D"); // Ctrl+Left
  assertEquals(e.cursor, "send userB ".length);
  e.feed("\x1bb"); // Alt+B
  assertEquals(e.cursor, "send ".length);
  e.feed("\x0b"); // Ctrl+K
  assertEquals(e.text, "send ");
  e.feed("\x01\x1b[1;5C"); // Home, Ctrl+Right
  assertEquals(e.cursor, 4);
  e.feed("\x15"); // Ctrl+U clears the line
  assertEquals([e.text, e.cursor], ["", 0]);
});

Deno.test("LineEditor: Ctrl+C interrupts, Ctrl+D is end of input only on an empty line", () => {
  const e = new LineEditor();
  assertEquals(e.feed("x\x03").actions, [{ type: "interrupt" }]);
  assertEquals(e.text, "x");
  e.feed("\x01");
  assertEquals(e.feed("\x04").actions, []); // deletes the x instead
  assertEquals(e.text, "");
  assertEquals(e.feed("\x04").actions, [{ type: "eof" }]);
});

Deno.test("LineEditor: control characters and unknown sequences are not inserted", () => {
  const e = new LineEditor();
  e.feed("a\x1b[2J\x07\u009b\x1b[<0;3;4M\x1b[Ob\tc");
  assertEquals(e.text, "ab c");
});

Deno.test("LineEditor.render() redraws the line and puts the cursor back", () => {
  const e = new LineEditor();
  e.feed("send 中文");
  assertEquals(e.render(">>> "), "\r\x1b[2K>>> send 中文");
  e.feed("\x1b[D\x1b[D");
  // The cursor is placed by writing the text before it again.
  assertEquals(e.render(">>> "), "\r\x1b[2K>>> send 中文\r>>> send ");
});

// --- Formatting ------------------------------------------------------------

Deno.test("formatLine: colours by kind only when asked", () => {
  const kinds: [OutputEvent["kind"], string][] = [
    ["status", "\x1b[36m"],
    ["table", "\x1b[2m"],
    ["incoming", "\x1b[1m"],
    ["own", "\x1b[32m"],
    ["notice", "\x1b[33m"],
    ["error", "\x1b[31m"],
  ];
  for (const [kind, sgr] of kinds) {
    const e = { kind, event: "x", text: "[Unknown user x.]" };
    assertEquals(formatLine(e), ">>> [Unknown user x.]");
    assertEquals(formatLine(e, { color: false }), ">>> [Unknown user x.]");
    assertEquals(
      formatLine(e, { color: true }),
      `>>> ${sgr}[Unknown user x.]\x1b[0m`,
    );
  }
});

Deno.test("formatLine: JSON is one object with event, kind, text and data", () => {
  const e: OutputEvent = {
    kind: "incoming",
    event: "message",
    text: "evil: \x1b[2J\u009b\n",
    data: { from: "evil", count: 2, private: true, none: null },
    bell: true,
  };
  const line = formatLine(e, { json: true, color: true });
  // deno-lint-ignore no-control-regex -- no raw control characters
  assert(!/[\x00-\x1f\x7f-\x9f]/.test(line), line);
  assertEquals(JSON.parse(line), {
    event: "message",
    kind: "incoming",
    text: "evil: \x1b[2J\u009b\n",
    from: "evil",
    count: 2,
    private: true,
    none: null,
  });
});

Deno.test("sanitize() neutralises terminal escapes from the network and keeps Unicode", () => {
  assertEquals(
    sanitize("\x1b[2J\x07hi\u009b\x7f\r\n"),
    "\ufffd[2J\ufffdhi\ufffd\ufffd\ufffd\ufffd",
  );
  assertEquals(sanitize("a\tb"), "a b");
  assertEquals(
    sanitize("中文 👋 é e\u0301 \u200d"),
    "中文 👋 é e\u0301 \u200d",
  );
  const line = formatLine({
    kind: "incoming",
    event: "message",
    text: "evil: \x1b]0;title\x07\x1b[2J",
  }, { color: true });
  assertEquals(line, ">>> \x1b[1mevil: \ufffd]0;title\ufffd\ufffd[2J\x1b[0m");
});

// --- The terminal ------------------------------------------------------------

interface Fake {
  options: TerminalOptions;
  out: string[];
  raw: boolean[];
  send(input: string | Uint8Array): void;
  end(): void;
  /** Waits until the output so far satisfies `done`. */
  waitFor(done: (written: string) => boolean): Promise<void>;
}

function fake(options: Partial<TerminalOptions> = {}): Fake {
  const out: string[] = [];
  const raw: boolean[] = [];
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const input = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
  });
  return {
    options: {
      json: false,
      color: false,
      input,
      output: (text) => void out.push(text),
      setRaw: (on) => void raw.push(on),
      ...options,
    },
    out,
    raw,
    send: (input) =>
      controller.enqueue(typeof input === "string" ? encode(input) : input),
    end: () => controller.close(),
    async waitFor(done) {
      for (let i = 0; i < 1000; i++) {
        if (done(out.join(""))) return;
        await new Promise((r) => setTimeout(r, 0));
      }
      throw new Error(`output never matched: ${JSON.stringify(out.join(""))}`);
    },
  };
}

const incoming: OutputEvent = {
  kind: "incoming",
  event: "message",
  text: "userB: hi \x1b[2J",
  bell: true,
};

Deno.test("piped: lines split on LF and CRLF, the last without a newline; output is plain", async () => {
  const f = fake({ isTerminal: false, outputIsTerminal: false, color: true });
  const t = openTerminal(f.options);
  f.send("send a x\r\nsen");
  f.send("d_all y é\xe9\nexit");
  f.end();
  assertEquals(await Array.fromAsync(t.lines()), [
    "send a x",
    "send_all y é\xe9",
    "exit",
  ]);
  t.print(incoming);
  t.close();
  assertEquals(f.out.join(""), ">>> userB: hi \ufffd[2J\n"); // no colour, no bell
  assertEquals(f.raw, []);
});

Deno.test("piped: multi-byte characters split across reads", async () => {
  const f = fake({ isTerminal: false });
  const t = openTerminal(f.options);
  const bytes = encode("send b 👋\r\n");
  f.send(bytes.subarray(0, 8));
  f.send(bytes.subarray(8, 10));
  f.send(bytes.subarray(10, 12));
  f.send(bytes.subarray(12));
  f.end();
  assertEquals(await Array.fromAsync(t.lines()), ["send b 👋"]);
  t.close();
});

Deno.test("piped: close() ends lines() while the input is still open", async () => {
  const f = fake({ isTerminal: false });
  const t = openTerminal(f.options);
  const lines = Array.fromAsync(t.lines());
  f.send("one\n");
  await new Promise((r) => setTimeout(r, 0));
  t.close();
  assertEquals(await lines, ["one"]);
});

Deno.test("JSON piped: one object per line, no prompt, no colour, no raw mode", async () => {
  const f = fake({
    json: true,
    color: true,
    isTerminal: false,
    outputIsTerminal: false,
  });
  const t = openTerminal(f.options);
  f.send("who\n");
  f.end();
  assertEquals(await Array.fromAsync(t.lines()), ["who"]);
  t.print({ ...incoming, data: { from: "userB" } });
  t.close();
  assertEquals(f.raw, []);
  const written = f.out.join("");
  assert(written.endsWith("\n") && !written.includes(">>>"), written);
  assertEquals(JSON.parse(written), {
    event: "message",
    kind: "incoming",
    text: "userB: hi \x1b[2J",
    from: "userB",
  });
});

Deno.test("JSON on a TTY: an event never lands on the half-typed input line", async () => {
  const f = fake({
    json: true,
    color: true,
    isTerminal: true,
    outputIsTerminal: true,
  });
  const t = openTerminal(f.options);
  assertEquals(f.raw, [true]);
  const lines = t.lines()[Symbol.asyncIterator]();
  const first = lines.next();
  f.send("send userB half");
  await f.waitFor((w) => w.endsWith(">>> send userB half"));
  f.out.length = 0;
  t.print({ ...incoming, data: { from: "userB" } });
  const written = f.out.join("");
  // Erase the input line, the JSON object on a line of its own, the input again.
  const [json, rest] = written.slice("\r\x1b[2K".length).split("\r\n");
  assert(written.startsWith("\r\x1b[2K"), written);
  assertEquals(JSON.parse(json).from, "userB");
  assert(!written.includes("\x07"), "no bell in JSON");
  assertEquals(rest, "\r\x1b[2K>>> send userB half");
  f.send("\r");
  assertEquals(await first, { value: "send userB half", done: false });
  t.close();
  assertEquals(f.raw, [true, false]);
});

Deno.test("interactive: an event prints above the input line and the half-typed text stays intact", async () => {
  const f = fake({ isTerminal: true, outputIsTerminal: true });
  const t = openTerminal(f.options);
  assertEquals(f.raw, [true]);
  assertEquals(f.out.join(""), "\r\x1b[2K>>> ");
  const lines = t.lines()[Symbol.asyncIterator]();
  const first = lines.next();

  f.send("send userB half");
  await f.waitFor((w) => w.endsWith(">>> send userB half"));
  f.out.length = 0;
  t.print(incoming);
  assertEquals(
    f.out.join(""),
    "\r\x1b[2K>>> userB: hi \ufffd[2J\r\n\x07\r\x1b[2K>>> send userB half",
  );

  // With the cursor moved back, it is put back where it was.
  f.send("\x1b[D\x1b[D");
  await f.waitFor((w) => w.endsWith("\r>>> send userB ha"));
  f.out.length = 0;
  t.print({ kind: "status", event: "x", text: "[Table updated.]" });
  assertEquals(
    f.out.join(""),
    "\r\x1b[2K>>> [Table updated.]\r\n" +
      "\r\x1b[2K>>> send userB half\r>>> send userB ha",
  );

  // Enter submits the whole line and leaves it on screen.
  f.out.length = 0;
  f.send("\r");
  assertEquals(await first, { value: "send userB half", done: false });
  assertEquals(f.out.join(""), "\r\x1b[2K>>> send userB half\r\n");
  const second = lines.next();
  await f.waitFor((w) => w.endsWith("\r\n\r\x1b[2K>>> "));

  // Ctrl+C is the exit command.
  f.send("oops\x03more");
  assertEquals(await second, { value: "exit", done: false });
  assertEquals(await lines.next(), { value: undefined, done: true });
  t.close();
  assertEquals(f.raw, [true, false]);
  t.close();
  assertEquals(f.raw, [true, false]);
});

Deno.test("interactive: Ctrl+D on an empty line is exit; --no-bell rings no bell", async () => {
  const f = fake({ isTerminal: true, outputIsTerminal: true, bell: false });
  const t = openTerminal(f.options);
  t.print(incoming);
  assert(!f.out.join("").includes("\x07"));
  f.send("a\x7f\x04");
  assertEquals(await Array.fromAsync(t.lines()), ["exit"]);
  t.close();
});

Deno.test("interactive: close() ends lines() and restores the terminal", async () => {
  const f = fake({ isTerminal: true, outputIsTerminal: true });
  const t = openTerminal(f.options);
  const lines = Array.fromAsync(t.lines());
  await new Promise((r) => setTimeout(r, 0));
  t.close();
  assertEquals(await lines, []);
  assertEquals(f.raw, [true, false]);
  // After close, events still print, as plain lines.
  f.out.length = 0;
  t.print(incoming);
  assertEquals(f.out.join(""), ">>> userB: hi \ufffd[2J\n");
});

Deno.test("interactive needs a TTY on both sides; otherwise lines are plain", async () => {
  const f = fake({ isTerminal: true, outputIsTerminal: false });
  const t = openTerminal(f.options);
  f.send("who\n");
  f.end();
  assertEquals(await Array.fromAsync(t.lines()), ["who"]);
  t.print(incoming);
  t.close();
  assertEquals(f.raw, []);
  assertEquals(f.out.join(""), ">>> userB: hi \ufffd[2J\n");
});

// Prints one event through openTerminal in a fresh process, with or without
// NO_COLOR, and returns what it wrote.
async function printInChild(
  noColor: string | undefined,
  options: Partial<TerminalOptions>,
): Promise<string> {
  const env = Deno.env.toObject();
  delete env.NO_COLOR;
  if (noColor !== undefined) env.NO_COLOR = noColor;
  const module = new URL("../runtime/terminal.ts", import.meta.url).href;
  const code = `
    import { openTerminal } from ${JSON.stringify(module)};
    const t = openTerminal({
      ...${JSON.stringify(options)},
      input: new ReadableStream(),
      outputIsTerminal: true,
    });
    t.print({ kind: "error", event: "x", text: "boom", bell: true });
    t.close();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("colour on a TTY, none with NO_COLOR set or --no-color", async () => {
  const piped = { json: false, isTerminal: false };
  assertEquals(
    await printInChild(undefined, piped),
    ">>> \x1b[31mboom\x1b[0m\n",
  );
  assertEquals(await printInChild("", piped), ">>> \x1b[31mboom\x1b[0m\n");
  assertEquals(await printInChild("1", piped), ">>> boom\n");
  assertEquals(
    await printInChild(undefined, { ...piped, color: false }),
    ">>> boom\n",
  );
  // Interactive: the line editor's own sequences, but no colour.
  const tty = { json: false, isTerminal: true };
  assertMatch(await printInChild(undefined, tty), SGR);
  const plain = await printInChild("1", tty);
  assert(!SGR.test(plain), JSON.stringify(plain));
  assertEquals(
    plain,
    "\r\x1b[2K>>> \r\x1b[2K>>> boom\r\n\x07\r\x1b[2K>>> \r\x1b[2K",
  );
});

// --- Issue #12: width, graphemes, paste, keys, signals ------------------------

Deno.test("displayWidth: wide, emoji, flags, ZWJ and combining characters", () => {
  const cases: [string, number][] = [
    ["abc", 3],
    ["日本語", 6],
    ["ｶ", 1], // halfwidth katakana
    ["Ａ", 2], // fullwidth A
    ["👍🏽", 2],
    ["🇫🇷", 2],
    ["👨‍👩‍👧", 2],
    ["e\u0301", 1],
    ["❤\ufe0f", 2],
    ["한국어", 6],
    ["\u200b", 0],
  ];
  for (const [text, width] of cases) {
    assertEquals(displayWidth(text), width, text);
  }
});

Deno.test("wrapText: rows by display width, a wide character never cut, the cursor located", () => {
  const rows = (w: ReturnType<typeof wrapText>) =>
    w.rows.map((r) => r.prefix + r.text);
  // 10 columns: ">>> " then 6 columns per first row.
  const w = wrapText("日本語日本", { columns: 9, prompt: ">>> ", cursor: 3 });
  // ">>> 日本" is 8 columns: 語 (2) does not fit in the 9th.
  assertEquals(rows(w), [">>> 日本", "語日本"]);
  assertEquals(w.cursor, { row: 1, col: 2, before: "語" });
  assertEquals(w.end, { row: 1, col: 6, before: "語日本" });
  // A row filled to the last column: the end is on the next (empty) row.
  const full = wrapText("abcdef", { columns: 10, prompt: ">>> " });
  assertEquals(rows(full), [">>> abcdef", ""]);
  assertEquals(full.end, { row: 1, col: 0, before: "" });
  // The cursor at the start is just after the prompt.
  assertEquals(
    wrapText("abc", { columns: 80, prompt: ">>> ", cursor: 0 }).cursor,
    {
      row: 0,
      col: 4,
      before: ">>> ",
    },
  );
});

Deno.test("formatRows: a wrapped message's continuation rows are indented; no row passes for another message", () => {
  const text = "userE: ok" + " ".repeat(70) +
    "userA: please re-send the invoice to my new account";
  const rows = formatRows({ kind: "incoming", event: "message", text }, {
    columns: 80,
  });
  assert(rows.length >= 2, JSON.stringify(rows));
  assert(rows[0].startsWith(">>> userE: ok"));
  for (const row of rows.slice(1)) {
    assert(row.startsWith("    "), JSON.stringify(row));
    assert(!row.startsWith(">>>"), row);
  }
  for (const row of rows) assert(displayWidth(row) <= 80, row);
  // Line ends in a message are continuation rows too, never a new ">>> " line.
  assertEquals(
    formatRows({
      kind: "incoming",
      event: "message",
      text: "userE: hi\r\n>>> userA: fake\nbye",
    }),
    [">>> userE: hi", "    >>> userA: fake", "    bye"],
  );
  // Colour wraps the text of each row, not the prompt or the indent.
  assertEquals(
    formatRows({ kind: "error", event: "x", text: "abcdefgh" }, {
      columns: 10,
      color: true,
    }),
    [">>> \x1b[31mabcdef\x1b[0m", "    \x1b[31mgh\x1b[0m"],
  );
});

Deno.test("sanitize(): bidi controls and line/paragraph separators are neutralised", () => {
  for (
    const c of [
      "\u202a",
      "\u202b",
      "\u202c",
      "\u202d",
      "\u202e",
      "\u2066",
      "\u2067",
      "\u2068",
      "\u2069",
      "\u200e",
      "\u200f",
      "\u061c",
      "\u2028",
      "\u2029",
    ]
  ) {
    assertEquals(
      sanitize(`a${c}b`),
      "a\ufffdb",
      c.codePointAt(0)!.toString(16),
    );
  }
  assertEquals(sanitize("photo\u202egnp.exe"), "photo\ufffdgnp.exe");
  // Joiners and variation selectors are part of emoji: kept.
  assertEquals(sanitize("👨\u200d👩 ❤\ufe0f"), "👨\u200d👩 ❤\ufe0f");
});

Deno.test("LineEditor: Backspace removes a whole cluster: skin tone, flag, ZWJ family, combining accent", () => {
  for (const cluster of ["👍🏽", "🇫🇷", "👨‍👩‍👧", "e\u0301", "日"]) {
    const e = new LineEditor();
    e.feed(`ok${cluster}`);
    e.feed("\x7f");
    assertEquals(e.text, "ok", cluster);
    e.feed(`${cluster}x\x1b[D\x1b[D`); // Left, Left: before the cluster
    assertEquals(e.cursor, 2, cluster);
    e.feed("\x1b[3~"); // Delete
    assertEquals(e.text, "okx", cluster);
  }
});

Deno.test("LineEditor: a bracketed paste is text: line ends kept, nothing submitted until Enter", () => {
  const e = new LineEditor();
  const paste = "\x1b[200~line one\r\nline two\rdereg userA\nlast\x1b[201~";
  assertEquals(e.feed(`send_all ${paste}`).actions, []);
  assertEquals(e.text, "send_all line one\nline two\ndereg userA\nlast");
  // Keys after the paste edit the line as usual.
  e.feed("!");
  assertEquals(e.feed("\r").actions, [{
    type: "line",
    text: "send_all line one\nline two\ndereg userA\nlast!",
  }]);
  // The markers and the text may be cut anywhere between reads.
  const f = new LineEditor();
  for (const ch of "\x1b[200~a\x1b[2J\tb\nc\x1b[201~") f.feed(ch);
  assertEquals(f.text, "a[2J b\nc"); // control characters dropped, tab a space
  assertEquals(f.feed("\r").actions, [{ type: "line", text: "a[2J b\nc" }]);
});

Deno.test("LineEditor: Ctrl+K, Ctrl+L, Alt+F, Ctrl+Left/Right", () => {
  const e = new LineEditor();
  e.feed("send userB hello there");
  e.feed("\x01\x1bf"); // Home, Alt+F
  assertEquals(e.cursor, 4);
  e.feed("\x1b[1;5C"); // Ctrl+Right
  assertEquals(e.cursor, "send userB".length);
  e.feed("\x1b[1;5D\x1b[1;5D"); // Ctrl+Left twice
  assertEquals(e.cursor, 0);
  e.feed("\x1bf\x1bf"); // Alt+F twice
  e.feed("\x0b"); // Ctrl+K
  assertEquals(e.text, "send userB");
  assertEquals(e.feed("\x0c").actions, [{ type: "clear" }]); // Ctrl+L
  assertEquals(e.text, "send userB");
});

Deno.test("LineEditor: Tab completes commands and user names", () => {
  const names = () => ["userA", "userB", "bob"];
  const e = new LineEditor({
    complete: (line, cursor) => completeWord(line, cursor, { names }),
  });
  e.feed("sen\t");
  assertEquals(e.text, "send"); // send and send_all share "send"
  assertEquals(e.feed("\t").actions, [{
    type: "candidates",
    candidates: ["send", "send_all"],
  }]);
  e.feed(" b\t");
  assertEquals(e.text, "send bob ");
  e.feed("\x15de\t");
  assertEquals(e.text, "dereg ");
  e.feed("u\t");
  assertEquals(e.text, "dereg user");
  e.feed("A\t");
  assertEquals(e.text, "dereg userA ");
  // No completion in a message.
  e.feed("\x15send_all us\t");
  assertEquals(e.text, "send_all us");
});

/** A fake signal source the tests can raise signals on. */
function fakeSignals() {
  const handlers = new Map<string, Set<() => void>>();
  return {
    add(signal: string, handler: () => void) {
      if (!handlers.has(signal)) handlers.set(signal, new Set());
      handlers.get(signal)!.add(handler);
    },
    remove(signal: string, handler: () => void) {
      handlers.get(signal)?.delete(handler);
    },
    raise(signal: string) {
      for (const h of handlers.get(signal) ?? []) h();
    },
    count: () => [...handlers.values()].reduce((n, s) => n + s.size, 0),
  };
}

Deno.test("interactive: input wider than the terminal wraps, and is erased and redrawn in place", async () => {
  let columns = 20;
  const f = fake({
    isTerminal: true,
    outputIsTerminal: true,
    columns: () => columns,
  });
  const t = openTerminal(f.options);
  const lines = t.lines()[Symbol.asyncIterator]();
  const first = lines.next();
  // 4 + 26 columns: two rows in 20 columns.
  f.send("send userB abcdefghijklmno");
  await f.waitFor((w) => w.endsWith("klmno"));
  f.out.length = 0;
  f.send("p");
  // The cursor is on the second row: up one, erase to the end of the screen.
  await f.waitFor((w) => w.endsWith("klmnop"));
  assertEquals(
    f.out.join(""),
    "\r\x1b[2K>>> send userB abcde\r\nfghijklmnop".replace(
      "\r\x1b[2K",
      "\x1b[1A\r\x1b[J",
    ),
  );
  // Home: the cursor goes up to the first row, just after the prompt.
  f.out.length = 0;
  f.send("\x01");
  await f.waitFor((w) => w.endsWith("\x1b[1A\r>>> "));
  // An event: erase both rows from the first, print, draw the input again.
  f.out.length = 0;
  t.print({ kind: "status", event: "x", text: "[Client table updated.]" });
  assertEquals(
    f.out.join(""),
    // (the event wraps too, its second row indented)
    "\r\x1b[J>>> [Client table up\r\n    dated.]\r\n" +
      "\r\x1b[2K>>> send userB abcde\r\nfghijklmnop\x1b[1A\r>>> ",
  );
  // A resize to 40 columns: one row now.
  f.out.length = 0;
  columns = 40;
  // (no signal source in this fake: a keypress redraws at the new width)
  f.send("\x05");
  await f.waitFor((w) => w.includes("hijklmnop"));
  f.send("\r");
  assertEquals(await first, {
    value: "send userB abcdefghijklmnop",
    done: false,
  });
  t.close();
});

Deno.test("interactive: SIGWINCH redraws at the new width; SIGCONT restores raw mode and redraws", async () => {
  let columns = 20;
  const signals = fakeSignals();
  const f = fake({
    isTerminal: true,
    outputIsTerminal: true,
    columns: () => columns,
    signals,
    bracketedPaste: true,
  });
  const t = openTerminal(f.options);
  assertEquals(f.out.join(""), "\x1b[?2004h\r\x1b[2K>>> ");
  const lines = t.lines()[Symbol.asyncIterator]();
  const next = lines.next();
  f.send("send userB abcdefghijklmno");
  await f.waitFor((w) => w.endsWith("klmno"));
  f.out.length = 0;
  columns = 10;
  signals.raise("SIGWINCH");
  // At 20 columns the cursor was on row 1, after one full row of 20 columns,
  // which a reflowing terminal splits in two at 10: up 2.
  assertEquals(
    f.out.join(""),
    "\x1b[2A\r\x1b[J>>> send u\r\nserB abcde\r\nfghijklmno\r\n",
  );
  // Ctrl+Z stopped us; `fg` sends SIGCONT: raw mode and paste mode again,
  // and the prompt and input drawn on the fresh row.
  f.out.length = 0;
  signals.raise("SIGCONT");
  assertEquals(f.raw, [true, true]);
  assertEquals(
    f.out.join(""),
    "\x1b[?2004h\r\x1b[2K>>> send u\r\nserB abcde\r\nfghijklmno\r\n",
  );
  f.send("\r");
  assertEquals(await next, {
    value: "send userB abcdefghijklmno",
    done: false,
  });
  t.close();
  assertEquals(signals.count(), 0);
  assert(f.out.join("").endsWith("\x1b[?2004l"));
});

Deno.test("interactive: SIGHUP and SIGQUIT restore the terminal at once and end with exit", async () => {
  for (const signal of ["SIGHUP", "SIGQUIT"]) {
    const signals = fakeSignals();
    const f = fake({
      isTerminal: true,
      outputIsTerminal: true,
      signals,
      bracketedPaste: true,
    });
    const t = openTerminal(f.options);
    const lines = Array.fromAsync(t.lines());
    f.send("half");
    await f.waitFor((w) => w.endsWith(">>> half"));
    f.out.length = 0;
    signals.raise(signal);
    assertEquals(f.raw, [true, false], signal);
    assertEquals(await lines, ["exit"], signal);
    if (signal === "SIGHUP") {
      assertEquals(f.out, [], "nothing to a hung-up tty");
    } else assert(f.out.join("").includes("\x1b[?2004l"), f.out.join(""));
    t.close();
    assertEquals(signals.count(), 0);
  }
});

Deno.test("interactive: SIGINT (Ctrl+C with the tty's signals on) is the exit command", async () => {
  const signals = fakeSignals();
  const f = fake({ isTerminal: true, outputIsTerminal: true, signals });
  const t = openTerminal(f.options);
  const lines = Array.fromAsync(t.lines());
  f.send("oops");
  await f.waitFor((w) => w.endsWith(">>> oops"));
  signals.raise("SIGINT");
  assertEquals(await lines, ["exit"]);
  assert(f.out.join("").endsWith(">>> oops^C\r\n"), f.out.join(""));
  t.close();
});

Deno.test("interactive: a multi-line paste is one message, or refused with one line", async () => {
  const f = fake({ isTerminal: true, outputIsTerminal: true });
  const t = openTerminal(f.options);
  const lines = t.lines()[Symbol.asyncIterator]();
  const first = lines.next();
  // Four pasted lines, the third a command: nothing runs, one line says why.
  f.send("\x1b[200~hello\nline two\ndereg userA\nlast\n\x1b[201~");
  await f.waitFor((w) => w.includes("last"));
  f.send("\r");
  await f.waitFor((w) => w.includes("Nothing was run"));
  const written = f.out.join("");
  assertEquals(written.match(/\[Several lines pasted[^\]]*\]/g)!.length, 1);
  // A paste after send_all: one message, sent on Enter.
  f.send("send_all \x1b[200~one\r\ntwo\x1b[201~");
  await f.waitFor((w) => w.endsWith("one\u23cetwo"));
  f.send("\r");
  assertEquals(await first, { value: "send_all one\ntwo", done: false });
  t.close();
});

Deno.test("interactive: Tab shows the names when they do not complete further; Ctrl+L clears the screen", async () => {
  const f = fake({
    isTerminal: true,
    outputIsTerminal: true,
    names: () => ["userA", "userB"],
  });
  const t = openTerminal(f.options);
  const lines = Array.fromAsync(t.lines());
  f.send("send u\t");
  await f.waitFor((w) => w.endsWith(">>> send user"));
  f.out.length = 0;
  f.send("\t");
  await f.waitFor((w) => w.includes("userA  userB"));
  assertEquals(
    f.out.join(""),
    "\r\x1b[2KuserA  userB\r\n\r\x1b[2K>>> send user",
  );
  f.out.length = 0;
  f.send("\x0c");
  await f.waitFor((w) => w.length > 0);
  assertEquals(f.out.join(""), "\x1b[H\x1b[2J>>> send user");
  f.end();
  assertEquals(await lines, []);
  t.close();
});
