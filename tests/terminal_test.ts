import { LineEditor } from "../client/_line_editor.ts";
import { formatLine, sanitize } from "../client/terminal.ts";
import { readLines } from "../cli/stdin_lines.ts";
import { assert, assertEquals } from "./_assert.ts";

Deno.test("LineEditor submits typed lines and edits with the cursor keys", () => {
  const e = new LineEditor();
  assertEquals(e.feed("send userB hx"), []);
  e.feed("\x7f"); // Backspace
  e.feed("i");
  e.feed("\x1b[D\x1b[D"); // Left, Left
  e.feed("X");
  assertEquals(e.text, "send userB Xhi");
  assertEquals(e.cursor, 12);
  e.feed("\x1b[3~"); // Delete
  assertEquals(e.text, "send userB Xi");
  e.feed("\x01"); // Home (Ctrl+A)
  e.feed("> ");
  e.feed("\x05"); // End (Ctrl+E)
  assertEquals(e.feed("!\r"), [{ type: "line", text: "> send userB Xi!" }]);
  assertEquals(e.text, "");
});

Deno.test("LineEditor history restores the half-typed draft on the way back down", () => {
  const e = new LineEditor();
  e.feed("first\rsecond\r");
  e.feed("draft");
  e.feed("\x1b[A");
  assertEquals(e.text, "second");
  e.feed("\x1b[A\x1b[A");
  assertEquals(e.text, "first");
  e.feed("\x1b[B\x1b[B");
  assertEquals(e.text, "draft");
});

Deno.test("LineEditor keeps multi-byte characters and escape sequences split across reads", () => {
  const e = new LineEditor();
  e.feed("héllo 👋");
  e.feed("\x1b");
  e.feed("[D");
  e.feed("✓");
  assertEquals(e.text, "héllo ✓👋");
  assertEquals(e.render(">>> "), "\r\x1b[2K>>> héllo ✓👋\x1b[1D");
});

Deno.test("LineEditor: a paste of several lines submits each", () => {
  const e = new LineEditor();
  assertEquals(e.feed("a\nb\r\nc"), [{ type: "line", text: "a" }, {
    type: "line",
    text: "b",
  }, { type: "line", text: "" }]);
  assertEquals(e.text, "c");
});

Deno.test("LineEditor: Ctrl+U and Ctrl+W delete, Ctrl+C interrupts, Ctrl+D on empty is end of input", () => {
  const e = new LineEditor();
  e.feed("send userB two words");
  e.feed("\x17");
  assertEquals(e.text, "send userB two ");
  e.feed("\x15");
  assertEquals(e.text, "");
  assertEquals(e.feed("\x04"), [{ type: "eof" }]);
  assertEquals(e.feed("x\x03"), [{ type: "interrupt" }]);
});

Deno.test("formatLine colours by kind only when asked, and JSON is one object", () => {
  const e = {
    kind: "error" as const,
    event: "unknown_user",
    text: "[Unknown user x.]",
    data: { name: "x" },
  };
  assertEquals(formatLine(e), ">>> [Unknown user x.]");
  assertEquals(
    formatLine(e, { color: true }),
    ">>> \x1b[31m[Unknown user x.]\x1b[0m",
  );
  assertEquals(JSON.parse(formatLine(e, { json: true })), {
    event: "unknown_user",
    kind: "error",
    text: "[Unknown user x.]",
    name: "x",
  });
});

Deno.test("sanitize() neutralises terminal escapes from the network and keeps Unicode", () => {
  assertEquals(sanitize("\x1b[2J\x07hi\u009b"), "\ufffd[2J\ufffdhi\ufffd");
  assertEquals(sanitize("中文 👋 é"), "中文 👋 é");
  const line = formatLine({
    kind: "incoming",
    event: "message",
    text: "evil: \x1b]0;title\x07",
  });
  assert(!line.includes("\x1b") && !line.includes("\x07"));
});

Deno.test("readLines() splits piped input on LF and CRLF, with a last line lacking a newline", async () => {
  const chunks = ["send a x\r\nsen", "d_all y\nexit"].map((s) =>
    new TextEncoder().encode(s)
  );
  assertEquals(await Array.fromAsync(readLines(ReadableStream.from(chunks))), [
    "send a x",
    "send_all y",
    "exit",
  ]);
});
