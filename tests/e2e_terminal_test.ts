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
