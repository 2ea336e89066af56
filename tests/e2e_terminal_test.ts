/**
 * The interactive terminal, for real, in tmux: incoming messages appear above
 * the input line and what the person has half typed stays intact.
 */
import { assert, assertEquals } from "./_assert.ts";
import { freePort, startClient, startServer } from "./_proc.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function tmux(...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", {
      args: ["-V"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

// Reads the pane until `done` holds; a safety timeout, not a timing assertion.
async function waitForPane(
  session: string,
  done: (lines: string[]) => boolean,
): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const lines = (await tmux("capture-pane", "-p", "-t", session)).split("\n")
      .map((l) => l.trimEnd());
    while (lines.length > 0 && lines.at(-1) === "") lines.pop();
    if (done(lines)) return lines;
    if (Date.now() > deadline) {
      throw new Error(`pane never matched:\n${lines.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name:
    "an incoming message appears above a half-typed line, which stays intact",
  ignore: !hasTmux(),
  async fn() {
    const sp = freePort();
    const [a, b] = [freePort(), freePort()];
    await using _server = await startServer(sp);
    const session = `udpchat-${a}`;
    const cmd =
      `${Deno.execPath()} run --allow-net main.ts -c userA 127.0.0.1 ${sp} ${a}`;
    await tmux(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "160",
      "-y",
      "30",
      "-c",
      ROOT,
      `NO_COLOR=1 ${cmd}`,
    );
    try {
      await waitForPane(
        session,
        (l) => l.some((x) => x.startsWith(">>> {'userA'")),
      );
      await using B = await startClient("userB", sp, b);
      await waitForPane(session, (l) => l.some((x) => x.includes("'userB'")));

      await tmux(
        "send-keys",
        "-t",
        session,
        "-l",
        "send userB half-typed ✓ text",
      );
      await waitForPane(
        session,
        (l) => l.at(-1) === ">>> send userB half-typed ✓ text",
      );
      await B.type("send userA incoming!");
      const lines = await waitForPane(
        session,
        // (the redraw may land a moment after the message)
        (l) =>
          l.includes(">>> userB: incoming!") &&
          l.at(-1)!.startsWith(">>> send"),
      );
      // The message is above, and the input line is still there, intact, at the bottom.
      assertEquals(lines.at(-1), ">>> send userB half-typed ✓ text");
      assert(lines.indexOf(">>> userB: incoming!") < lines.length - 1);

      // Finishing the line runs the command.
      await tmux("send-keys", "-t", session, "-l", " done");
      await tmux("send-keys", "-t", session, "Enter");
      await waitForPane(
        session,
        (l) => l.includes(">>> [Message received by userB.]"),
      );
      await B.waitFor("userA: half-typed ✓ text done");

      // History: Up brings the last command back.
      await tmux("send-keys", "-t", session, "Up");
      await waitForPane(
        session,
        (l) => l.at(-1) === ">>> send userB half-typed ✓ text done",
      );
      await tmux("send-keys", "-t", session, "C-u");
      await tmux("send-keys", "-t", session, "C-c");
      await B.waitFor(/^\{/);
    } finally {
      await tmux("kill-session", "-t", session).catch(() => "");
    }
  },
});

// --- Issue #12: the terminal as a person sees it --------------------------------

/** Starts a tmux session running `command` in the repository, `cols` wide. */
async function session(
  name: string,
  command: string,
  cols = 80,
): Promise<AsyncDisposable & { name: string }> {
  await tmux(
    "new-session",
    "-d",
    "-s",
    name,
    "-x",
    String(cols),
    "-y",
    "20",
    "-c",
    ROOT,
    command,
  );
  return {
    name,
    async [Symbol.asyncDispose]() {
      await tmux("kill-session", "-t", name).catch(() => "");
    },
  };
}

const deno = Deno.execPath();
const clientCommand = (name: string, sp: number, cp: number, extra = "") =>
  `NO_COLOR=1 ${deno} run --allow-net main.ts -c ${name} 127.0.0.1 ${sp} ${cp} ${extra}`;

async function cursorX(name: string): Promise<number> {
  return Number(
    (await tmux("display", "-p", "-t", name, "#{cursor_x}")).trim(),
  );
}

Deno.test({
  name:
    "40 columns: long input wraps in place, no stale rows; events print above; Home goes to the first row",
  ignore: !hasTmux(),
  async fn() {
    const sp = freePort();
    const [a, b] = [freePort(), freePort()];
    await using _server = await startServer(sp);
    await using s = await session(
      `udpchat-wrap-${a}`,
      clientCommand("userA", sp, a),
      40,
    );
    await waitForPane(
      s.name,
      (l) => l.some((x) => x.startsWith(">>> {'userA'")),
    );
    await using B = await startClient("userB", sp, b);
    await waitForPane(s.name, (l) => l.some((x) => x.includes("'userB'")));
    const text = "send userB " + "0123456789".repeat(3) + "abcdefghij";
    for (const ch of text) await tmux("send-keys", "-t", s.name, "-l", ch);
    const lines = await waitForPane(
      s.name,
      (l) => l.at(-1) === "56789abcdefghij",
    );
    // 4 + 51 columns: two rows, exactly once each.
    assertEquals(lines.slice(-2), [
      ">>> send userB 0123456789012345678901234",
      "56789abcdefghij",
    ]);
    assertEquals(lines.filter((l) => l.startsWith(">>> send userB")).length, 1);
    // An incoming message goes above the two input rows.
    await B.type("send userA hello from B");
    const after = await waitForPane(
      s.name,
      (l) =>
        l.includes(">>> userB: hello from B") && l.at(-1) === "56789abcdefghij",
    );
    assertEquals(after.slice(-3), [
      ">>> userB: hello from B",
      ">>> send userB 0123456789012345678901234",
      "56789abcdefghij",
    ]);
    // Home: the cursor on the first input row, just after the prompt.
    await tmux("send-keys", "-t", s.name, "Home");
    await tmux("send-keys", "-t", s.name, "-l", "X");
    await waitForPane(
      s.name,
      (l) => l.at(-2)?.startsWith(">>> Xsend") ?? false,
    );
    assertEquals(await cursorX(s.name), 5);
    // A resize to 30 columns: still one copy of the input, rows rewrapped.
    await tmux("resize-window", "-t", s.name, "-x", "30");
    const narrow = await waitForPane(
      s.name,
      (l) => l.at(-1) === "4567890123456789abcdefghij",
    );
    assertEquals(narrow.at(-2), ">>> Xsend userB 01234567890123");
    assertEquals(narrow.filter((l) => l.startsWith(">>> Xsend")).length, 1);
    await tmux("send-keys", "-t", s.name, "C-u");
    await tmux("send-keys", "-t", s.name, "C-c");
  },
});

Deno.test({
  name: "wide characters: the cursor lands on glyph boundaries (日本語)",
  ignore: !hasTmux(),
  async fn() {
    const sp = freePort();
    const a = freePort();
    await using _server = await startServer(sp);
    await using s = await session(
      `udpchat-wide-${a}`,
      clientCommand("userA", sp, a),
    );
    await waitForPane(
      s.name,
      (l) => l.some((x) => x.startsWith(">>> {'userA'")),
    );
    await tmux("send-keys", "-t", s.name, "-l", "send userB 日本語");
    await waitForPane(s.name, (l) => l.at(-1) === ">>> send userB 日本語");
    assertEquals(await cursorX(s.name), 4 + 11 + 6);
    await tmux("send-keys", "-t", s.name, "Left");
    await tmux("send-keys", "-t", s.name, "Left");
    await tmux("send-keys", "-t", s.name, "-l", "|");
    await waitForPane(s.name, (l) => l.at(-1) === ">>> send userB 日|本語");
    assertEquals(await cursorX(s.name), 4 + 11 + 3);
    await tmux("send-keys", "-t", s.name, "Home");
    await waitForPane(s.name, () => true);
    await tmux("send-keys", "-t", s.name, "-l", "^");
    await waitForPane(s.name, (l) => l.at(-1) === ">>> ^send userB 日|本語");
    assertEquals(await cursorX(s.name), 5);
    await tmux("send-keys", "-t", s.name, "C-c");
  },
});

Deno.test({
  name:
    "bracketed paste: pasted lines run nothing; after send_all they are one message",
  ignore: !hasTmux(),
  async fn() {
    const sp = freePort();
    const [a, b] = [freePort(), freePort()];
    await using server = await startServer(sp);
    await using B = await startClient("userB", sp, b);
    await using s = await session(
      `udpchat-paste-${a}`,
      clientCommand("userA", sp, a),
    );
    await waitForPane(s.name, (l) => l.some((x) => x.includes("'userB'")));
    await tmux(
      "set-buffer",
      "-b",
      `p${a}`,
      "hello\nline two\ndereg userA\nlast",
    );
    await tmux("paste-buffer", "-p", "-d", "-b", `p${a}`, "-t", s.name);
    await waitForPane(
      s.name,
      (l) => l.at(-1) === ">>> hello⏎line two⏎dereg userA⏎last",
    );
    await tmux("send-keys", "-t", s.name, "Enter");
    await waitForPane(
      s.name,
      (l) => l.some((x) => x.includes("[Several lines pasted")),
    );
    // Nothing ran: userA is still Online, no message went anywhere.
    assert(
      !server.lines.some((l) => l.includes("userA") && l.includes("Offline")),
    );
    assertEquals(B.count(/hello|last/), 0);

    await tmux("send-keys", "-t", s.name, "-l", "send_all ");
    await tmux("set-buffer", "-b", `q${a}`, "first line\nsecond line");
    await tmux("paste-buffer", "-p", "-d", "-b", `q${a}`, "-t", s.name);
    await waitForPane(
      s.name,
      (l) => l.at(-1)?.endsWith("second line") ?? false,
    );
    await tmux("send-keys", "-t", s.name, "Enter");
    const i = await B.waitFor("Group Chat userA: first line");
    // The second line is a continuation row of the same message.
    await B.waitFor("    second line", { from: i + 1 });
    await tmux("send-keys", "-t", s.name, "C-c");
  },
});

Deno.test({
  name:
    "Ctrl+Z and fg bring back raw mode and the input; Ctrl+\\ leaves the shell's tty sane",
  ignore: !hasTmux(),
  async fn() {
    const sp = freePort();
    const a = freePort();
    await using _server = await startServer(sp);
    await using s = await session(
      `udpchat-tstp-${a}`,
      "env -i PATH=/usr/bin:/bin TERM=xterm bash --norc --noprofile",
    );
    await tmux("send-keys", "-t", s.name, "-l", "PS1='$ '");
    await tmux("send-keys", "-t", s.name, "Enter");
    await tmux("send-keys", "-t", s.name, "-l", clientCommand("userA", sp, a));
    await tmux("send-keys", "-t", s.name, "Enter");
    await waitForPane(s.name, (l) => l.at(-1) === ">>>");
    await tmux("send-keys", "-t", s.name, "-l", "send userZ half");
    await waitForPane(s.name, (l) => l.at(-1) === ">>> send userZ half");
    await tmux("send-keys", "-t", s.name, "C-z");
    await waitForPane(
      s.name,
      (l) => l.some((x) => /Stopped/.test(x)) && l.at(-1) === "$",
    );
    await tmux("send-keys", "-t", s.name, "-l", "fg");
    await tmux("send-keys", "-t", s.name, "Enter");
    // The prompt and the half-typed input come back, and keys are keys again.
    await waitForPane(s.name, (l) => l.at(-1) === ">>> send userZ half");
    await tmux("send-keys", "-t", s.name, "Left");
    await tmux("send-keys", "-t", s.name, "-l", "!");
    await waitForPane(s.name, (l) => l.at(-1) === ">>> send userZ hal!f");
    // Ctrl+\ (SIGQUIT) ends it; the shell's terminal is as it was.
    await tmux("send-keys", "-t", s.name, "C-\\");
    await waitForPane(s.name, (l) => l.at(-1) === "$");
    await tmux(
      "send-keys",
      "-t",
      s.name,
      "-l",
      "stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo -e icrnl | tr '\\n' ,; echo",
    );
    await tmux("send-keys", "-t", s.name, "Enter");
    await waitForPane(s.name, (l) => l.includes("icrnl,icanon,echo,"));
  },
});

Deno.test({
  name:
    "stdout piped from a terminal: the log gets clean lines (no CR, escapes, echoes or bells)",
  ignore: !hasTmux(),
  async fn() {
    const sp = freePort();
    const [a, b] = [freePort(), freePort()];
    await using _server = await startServer(sp);
    await using B = await startClient("userB", sp, b);
    const log = await Deno.makeTempFile({ suffix: ".log" });
    try {
      await using s = await session(
        `udpchat-pipe-${a}`,
        `${clientCommand("userA", sp, a)} | cat > ${log}`,
      );
      const read = () => Deno.readTextFile(log);
      for (let i = 0; !(await read()).includes("'userB'"); i++) {
        if (i > 300) throw new Error(await read());
        await new Promise((r) => setTimeout(r, 50));
      }
      await tmux("send-keys", "-t", s.name, "-l", "send userB logged");
      await tmux("send-keys", "-t", s.name, "Enter");
      await B.waitFor("userA: logged");
      await B.type("send userA back");
      for (let i = 0; !(await read()).includes("userB: back"); i++) {
        if (i > 300) throw new Error(await read());
        await new Promise((r) => setTimeout(r, 50));
      }
      await tmux("send-keys", "-t", s.name, "C-c");
      const text = await read();
      // deno-lint-ignore no-control-regex -- looking for terminal noise
      assert(!/[\r\x07\x1b]/.test(text), JSON.stringify(text));
      assert(!text.includes("send userB logged"), "no keystroke echo");
      for (const line of text.trimEnd().split("\n")) {
        assert(line.startsWith(">>> "), JSON.stringify(line));
      }
    } finally {
      await Deno.remove(log);
    }
  },
});
