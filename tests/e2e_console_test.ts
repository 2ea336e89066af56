/**
 * The server's console and the command line, end to end (issue #12, items 9,
 * 10 and 16): network text is neutralised on the operator's screen, the
 * stats signal opens nothing, a Deno without the unstable net API is told
 * what to do.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { freePort, Proc, startServer } from "./_proc.ts";
import { UNSTABLE_NET_MISSING } from "../runtime/bind_error.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("the server's console neutralises network text as the client does", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  await using bot = new Proc([
    "-c",
    "evil",
    "127.0.0.1",
    String(sp),
    "0",
    "--exec",
    "send_all a\x1b]0;title\x07b\x1b[2Jc\rd\u202egnp.exe",
  ], { label: "evil" });
  await bot.status;
  const i = await server.waitFor((l) => l.includes("sent group message"));
  const line = server.lines[i];
  // deno-lint-ignore no-control-regex -- looking for raw control characters
  assert(!/[\x00-\x1f\x7f-\x9f\u202e]/.test(line), JSON.stringify(line));
  assert(
    line.includes("a\ufffd]0;title\ufffdb\ufffd[2Jc\ufffdd\ufffdgnp.exe"),
    line,
  );
});

/** The TCP and UDP sockets `pid` has open, as `ss` (iproute2) lists them. */
async function sockets(pid: number): Promise<{ tcp: string[]; udp: string[] }> {
  const out = await new Deno.Command("ss", {
    args: ["-H", "-a", "-n", "-t", "-u", "-p"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const rows = new TextDecoder().decode(out.stdout).split("\n")
    .filter((row) => row.includes(`pid=${pid},`));
  return {
    tcp: rows.filter((row) => row.startsWith("tcp")),
    udp: rows.filter((row) => row.startsWith("udp")),
  };
}

function hasSs(): boolean {
  try {
    return new Deno.Command("ss", {
      args: ["-V"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "SIGUSR2 prints the stats line and the server listens on nothing but its UDP port",
  ignore: Deno.build.os !== "linux" || !hasSs(),
  async fn() {
    const sp = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "main.ts", "-s", String(sp)],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const lines: string[] = [];
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const waitLine = async (re: RegExp) => {
      let buffer = "";
      for (;;) {
        const found = lines.find((l) => re.test(l));
        if (found) return found;
        const { value, done } = await reader.read();
        if (done) throw new Error(`no ${re}: ${lines.join("\n")}`);
        buffer += value;
        const parts = buffer.split("\n");
        buffer = parts.pop()!;
        lines.push(...parts);
      }
    };
    try {
      await waitLine(/Server is online/);
      child.kill("SIGUSR2");
      await waitLine(/^>>> \[Stats: /);
      const open = await sockets(child.pid);
      assertEquals(open.tcp, [], "no TCP socket (no inspector)");
      assertEquals(open.udp.length, 1, open.udp.join("\n"));
      assertMatch(open.udp[0], new RegExp(`:${sp}\\s`));
    } finally {
      child.kill("SIGTERM");
      await child.status;
      reader.cancel().catch(() => {});
      await child.stdin.close().catch(() => {});
      await child.stderr.cancel();
    }
  },
});

Deno.test("without the unstable net API: one line saying how to enable it, status 2", async () => {
  for (
    const args of [["-s", String(freePort())], [
      "-c",
      "a",
      "localhost",
      "5000",
      "0",
    ]]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--no-config", "main.ts", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 2);
    assertEquals(new TextDecoder().decode(out.stdout), "");
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(stderr, `${UNSTABLE_NET_MISSING}\n`);
    assertMatch(stderr, /--unstable-net/);
  }
});
