/**
 * Scripting for CI: `--exec` with every documented exit status, `--json`
 * output parsed as JSON, and plain output free of escape sequences. Real
 * processes on 127.0.0.1 with `--allow-net` only.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { freePort, Proc, startClient, startServer } from "./_proc.ts";

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; lines: string[]; raw: Proc }> {
  const p = new Proc(args, { env });
  await p.closeStdin();
  const code = await p.status;
  await p[Symbol.asyncDispose]();
  return { code, lines: p.lines, raw: p };
}

Deno.test("--exec exits 0 when every message is delivered, and leaves cleanly", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort());
  const { code, lines } = await run([
    "-c",
    "ci-bot",
    "127.0.0.1",
    String(sp),
    "0",
    "--exec",
    "send_all build 812 passed",
    "--exec",
    "send alice deploy done",
  ]);
  assertEquals(code, 0);
  assert(
    lines.includes("[Group Message received by Server.]"),
    lines.join("\n"),
  );
  assert(lines.includes("[Message received by alice.]"), lines.join("\n"));
  assertEquals(lines.at(-1), "[You are Offline. Bye.]");
  await alice.waitFor("Group Chat ci-bot: build 812 passed");
  await alice.waitFor("ci-bot: deploy done");
  // It left with dereg, and an --exec session is transient: its row is
  // removed from the table, not left Offline (issue 12, item 12).
  const seen = await alice.waitFor(
    /'ci-bot': \['127\.0\.0\.1', \d+, 'Online'\]/,
  );
  await alice.waitFor((l) => l.startsWith("{") && !l.includes("ci-bot"), {
    from: seen + 1,
  });
  assertEquals(alice.count(/'ci-bot': \[[^\]]*'Offline'\]/), 0);
  assert(
    server.lines.includes(
      "[Client ci-bot sent group message: build 812 passed ]",
    ),
  );
});

Deno.test("--exec exits 3 when a message is saved for an Offline user", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using bob = await startClient("bob", sp, freePort());
  await bob.type("dereg bob");
  await bob.waitFor("[You are Offline. Bye.]");
  const { code, lines } = await run([
    "-c",
    "ci-bot",
    "localhost",
    String(sp),
    "0",
    "--exec",
    "send bob hi",
  ]);
  assertEquals(code, 3);
  assert(
    lines.some((l) =>
      /^\[Offline Message sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d received by the server and saved\.\]$/
        .test(l)
    ),
  );
});

Deno.test("--exec exits 4 for an unknown user", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  const { code, raw } = await run([
    "-c",
    "ci-bot",
    "127.0.0.1",
    String(sp),
    "0",
    "--exec",
    "send nobody hi",
  ]);
  assertEquals(code, 4);
  // An error: on stderr in --exec mode.
  assert(raw.stderr.includes(">>> [Unknown user nobody.]\n"), raw.stderr);
});

Deno.test("--exec exits 1 when the server does not respond", async () => {
  const sp = freePort();
  const { code, lines, raw } = await run([
    "-c",
    "ci-bot",
    "127.0.0.1",
    String(sp),
    "0",
    "--exec",
    "send_all hi",
  ]);
  assertEquals(code, 1);
  // Diagnostics go to stderr in --exec mode; stdout keeps the outcome.
  assertEquals(lines, []);
  assert(
    raw.stderr.endsWith(">>> [Server not responding.]\n>>> [Exiting...]\n"),
    raw.stderr,
  );
});

Deno.test("bad arguments exit 2 with one line on stderr and no stack trace", async () => {
  for (
    const args of [
      ["-c", "ci-bot", "127.0.0.1"],
      ["-s", "70000"],
      ["-s", "abc"],
      ["-c", "bad name", "localhost", "5000", "6000"],
      ["--bogus"],
      [],
    ]
  ) {
    const { code, lines, raw } = await run(args);
    assertEquals(code, 2, args.join(" "));
    assertEquals(lines, []);
    assertMatch(raw.stderr, /^udpchat: /);
    assert(!raw.stderr.includes("    at "), raw.stderr);
  }
});

Deno.test("a port in use exits 1 with one clear line", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  const { code, raw } = await run(["-s", String(sp)]);
  assertEquals(code, 1);
  assertEquals(
    raw.stderr,
    `udpchat: Cannot open UDP port ${sp}: port ${sp} is already in use\n`,
  );
  const client = await run(["-c", "x", "127.0.0.1", String(sp), String(sp)]);
  assertEquals(client.code, 1);
  assertMatch(client.raw.stderr, /already in use/);
});

Deno.test("registration refused when the name is Online elsewhere exits 5", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  await using _alice = await startClient("alice", sp, freePort());
  const { code, lines, raw } = await run([
    "-c",
    "alice",
    "127.0.0.1",
    String(sp),
    "0",
    "--exec",
    "send_all hi",
  ]);
  assertEquals(code, 5);
  assertEquals(lines, []);
  assertEquals(
    raw.stderr,
    ">>> [Username alice is already in use by another session.]\n",
  );
  await server.waitFor("[Duplicate login detected.]");
});

Deno.test("--json prints one JSON object per event, server and client", async () => {
  const sp = freePort();
  const server = new Proc(["-s", String(sp), "--json"], { label: "server" });
  await server.waitFor(/"event":"online"/);
  await using bob = await startClient("bob", sp, freePort());
  const { code, lines } = await run([
    "-c",
    "ci-bot",
    "127.0.0.1",
    String(sp),
    "0",
    "--json",
    "--exec",
    "send bob hi",
  ]);
  assertEquals(code, 0);
  const events = lines.map((l) => JSON.parse(l));
  for (const e of events) {
    assertEquals(e.v, 1);
    assertMatch(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    delete e.time;
  }
  assertEquals(events[0], {
    v: 1,
    event: "welcome",
    kind: "status",
    text: "[Welcome, You are registered.]",
    name: "ci-bot",
  });
  const received = events.find((e) => e.event === "received");
  assertEquals(received, {
    v: 1,
    event: "received",
    kind: "status",
    text: "[Message received by bob.]",
    to: "bob",
  });
  for (const e of events) assertEquals(typeof e.text, "string");
  await bob.waitFor("ci-bot: hi");
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
  const serverEvents = server.lines.map((l) => JSON.parse(l));
  assertEquals(serverEvents[0].event, "online");
  assert(
    serverEvents.some((e) =>
      e.event === "table_updated" && e.text === "[Client table updated.]"
    ),
  );
});

Deno.test("NO_COLOR and piped output carry no escape sequences", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using bob = await startClient("bob", sp, freePort());
  for (const env of [{ NO_COLOR: "1" }, { NO_COLOR: "" }]) {
    const p = new Proc([
      "-c",
      "carol",
      "127.0.0.1",
      String(sp),
      "0",
      "--exec",
      "send bob \x1b[31mred\x1b[0m",
    ], { env });
    await p.closeStdin();
    assertEquals(await p.status, 0);
    await p[Symbol.asyncDispose]();
    for (const line of p.lines) {
      assert(!line.includes("\x1b"), JSON.stringify(line));
    }
  }
  // The recipient's terminal gets the text with the escape neutralised.
  const i = await bob.waitFor(/^carol: /);
  assert(!bob.lines[i].includes("\x1b"), JSON.stringify(bob.lines[i]));
});
