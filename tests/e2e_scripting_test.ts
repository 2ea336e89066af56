/**
 * Scripting and CI as a new user meets it (issue 12, items 11-15, 18-20):
 * `--exec` commands that fail exit non-zero, bots leave no rows behind, a
 * closed stdout ends cleanly, message bodies come from stdin, diagnostics go
 * to stderr, a message within the limit is sent or refused up front, the
 * registration's retries say what they are, Ctrl+C names what was not sent,
 * and every `--json` line matches `docs/events.schema.json`. Real processes
 * on 127.0.0.1 with `--allow-net` only.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { freePort, Proc, startClient, startServer } from "./_proc.ts";
import { validateJsonLine } from "./_json_schema.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Runs udpchat to its end, with `stdin` as its standard input. */
async function run(
  args: string[],
  stdin = "",
): Promise<{ code: number; lines: string[]; stderr: string }> {
  const p = new Proc(args);
  if (stdin !== "") await p.type(stdin.replace(/\n$/, ""));
  await p.closeStdin();
  const code = await p.status;
  await p[Symbol.asyncDispose]();
  return { code, lines: p.lines, stderr: p.stderr };
}

function bot(sp: number, ...exec: string[]): string[] {
  return [
    "-c",
    "ci-bot",
    "127.0.0.1",
    String(sp),
    "0",
    ...exec.flatMap((c) => ["--exec", c]),
  ];
}

Deno.test("--exec: a command that is none, or cannot run, exits 2 before anything is sent", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  for (
    const [exec, words] of [
      [["bogus cmd"], /Unknown command in --exec "bogus cmd": bogus/],
      [["send userA"], /Incomplete command in --exec "send userA"/],
      [["send_all hi", "dereg someoneelse"], /Not your name in --exec/],
      [["exit", "send_all hi"], /Command after exit would never run/],
      [["send_all -", "send userA -"], /Only one --exec command/],
    ] as const
  ) {
    const { code, lines, stderr } = await run(bot(sp, ...exec));
    assertEquals(code, 2, exec.join(" | "));
    assertEquals(lines, []);
    assertMatch(stderr, /^udpchat: .*\n$/);
    assertMatch(stderr, words);
  }
  // Nothing registered: the server never printed a table update.
  assertEquals(server.count("[Client table updated.]"), 0);
});

Deno.test("--exec: a command refused at run time (while Offline) exits 6, said on stderr", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  const { code, lines, stderr } = await run(
    bot(sp, "dereg ci-bot", "send_all hi"),
  );
  assertEquals(code, 6);
  assert(lines.includes("[You are Offline. Bye.]"), lines.join("\n"));
  assert(
    stderr.includes(
      ">>> [You are Offline. Type 'reg ci-bot' to come back online.]\n",
    ),
    stderr,
  );
});

Deno.test("--exec send_all exits 0 when a person is Offline (saved for them is its normal outcome), so a CI script under set -e goes on", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort());
  await alice.type("dereg alice");
  await alice.waitFor("[You are Offline. Bye.]");
  const r = await run(bot(sp, "send_all build 812 passed"));
  assertEquals(r.code, 0, r.stderr);
  const all = [...r.lines, ...r.stderr.split("\n")];
  assert(all.some((l) => l.includes("[No ACK from alice")), all.join("\n"));
});

Deno.test("--exec sessions are transient: no Offline rows, nothing stored, later send_all exits 0", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort());
  for (const [name, text] of [["bot1", "first"], ["bot2", "second"]]) {
    const p = new Proc([
      "-c",
      name,
      "127.0.0.1",
      String(sp),
      "0",
      "--exec",
      `send_all ${text}`,
    ]);
    await p.closeStdin();
    // Exit 0: no earlier bot is left Offline for the message to be saved for.
    assertEquals(await p.status, 0, p.stderr);
    assert(!p.lines.some((l) => l.startsWith("[No ACK from")), p.lines.join());
    await p[Symbol.asyncDispose]();
    await alice.waitFor(`Group Chat ${name}: ${text}`);
  }
  // The last table alice printed holds only alice.
  await alice.waitFor((l) => l.startsWith("{") && !l.includes("bot2"), {
    from: await alice.waitFor(/'bot2'/),
  });
  assertEquals(alice.count(/'Offline'/), 0);
});

Deno.test("a closed stdout (| head -1): no stack trace, the message is delivered, the bot leaves, exit 0", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort());
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "main.ts",
      ...bot(sp, "send alice deploy done"),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Read one line, then close the pipe, as `head -1` does.
  const reader = child.stdout.getReader();
  let got = "";
  while (!got.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  await reader.cancel();
  assertEquals(got.split("\n")[0], ">>> [Welcome, You are registered.]");
  const stderr = new TextDecoder().decode(
    (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
  );
  const { code } = await child.status;
  assertEquals(stderr, "");
  assertEquals(code, 0);
  await alice.waitFor("ci-bot: deploy done");
  // It still left the chat: its row is gone from the table.
  await alice.waitFor((l) => l.startsWith("{") && !l.includes("ci-bot"), {
    from: await alice.waitFor(/'ci-bot'/),
  });
});

Deno.test("send_all - and send NAME - read the message from stdin", async () => {
  const sp = freePort();
  await using _server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort(), {
    args: ["--json"],
  });
  const group = await run(bot(sp, "send_all -"), "build 812 passed\n");
  assertEquals(group.code, 0, group.stderr);
  const priv = await run(bot(sp, "send alice -"), "line one\nline two\n");
  assertEquals(priv.code, 0, priv.stderr);
  const messages = async (event: string) => {
    const i = await alice.waitFor((l) => l.includes(`"event":"${event}"`));
    return JSON.parse(alice.lines[i]).message;
  };
  assertEquals(await messages("group_message"), "build 812 passed");
  assertEquals(await messages("message"), "line one\nline two");
  const empty = await run(bot(sp, "send_all -"), "");
  assertEquals(empty.code, 6);
  assertEquals(
    empty.stderr,
    "udpchat: Message on standard input is empty: nothing sent\n",
  );
});

Deno.test("a message within 16,384 bytes of worst-case characters is delivered or refused up front", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort(), {
    args: ["--json"],
  });
  const emoji = "😀"; // 4 bytes of UTF-8, sent raw
  const control = "\x01"; // 1 byte of UTF-8, 6 in JSON
  const cases = [
    emoji.repeat(4096),
    (emoji + control.repeat(4)).repeat(2048),
    control.repeat(16_384),
  ];
  for (const text of cases) {
    assertEquals(new TextEncoder().encode(text).length, 16_384);
    const from = alice.lines.length;
    const r = await run(bot(sp, "send_all -"), text);
    // Never retried: the server ACKs what it accepts, or it was never sent.
    assert(!r.stderr.includes("retrying"), r.stderr);
    if (r.code === 0) {
      const i = await alice.waitFor(
        (l) => l.includes('"event":"group_message"'),
        { from },
      );
      assertEquals(JSON.parse(alice.lines[i]).message, text);
    } else {
      assertEquals(r.code, 4, r.stderr);
      assertMatch(
        r.stderr,
        /^>>> \[Message too long: it needs \d+ datagrams, the limit is 64\. Nothing was sent\.\]\n$/,
      );
    }
  }
  // The all-emoji message fits; the all-control one is refused up front.
  assertEquals(server.count(/^\[Client ci-bot sent group message: /), 2);
});

Deno.test("a client started before its server says it is registering, and where", async () => {
  const sp = freePort();
  const p = new Proc(["-c", "early", "127.0.0.1", String(sp), "0"]);
  await p.waitFor(
    `[Registering with 127.0.0.1:${sp}: no answer, trying again (1 of 5)...]`,
  );
  // The server comes up: the next try registers.
  await using _server = await startServer(sp);
  await p.waitFor("[Welcome, You are registered.]");
  assertEquals(p.count(/^\[Message sent!/), 0);
  await p[Symbol.asyncDispose]();
  // With --exec, the retries are diagnostics: on stderr.
  const gone = freePort();
  const r = await run(bot(gone, "send_all hi"));
  assertEquals(r.code, 1);
  assertEquals(r.lines, []);
  for (let n = 1; n <= 5; n++) {
    assert(
      r.stderr.includes(
        `>>> [Registering with 127.0.0.1:${gone}: no answer, trying again (${n} of 5)...]\n`,
      ),
      r.stderr,
    );
  }
  assert(!r.stderr.includes("[Message sent!"), r.stderr);
});

Deno.test("Ctrl+C while a send_all is pending says it was not sent", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  await using alice = await startClient("alice", sp, freePort());
  server.kill("SIGSTOP"); // the server stops answering, for now
  try {
    await alice.type("send_all are you there");
    await alice.waitFor("[Message sent! 1 time(s) retrying...]");
    alice.kill("SIGINT");
    assertEquals(await alice.status, 0);
    assert(
      alice.lines.includes(
        "[Exiting: group message not sent: are you there]",
      ),
      alice.lines.join("\n"),
    );
  } finally {
    server.kill("SIGCONT");
  }
});

Deno.test("--json: every line of server and clients matches docs/events.schema.json", async () => {
  const sp = freePort();
  const server = new Proc(["-s", String(sp), "--json"], { label: "server" });
  await server.waitFor(/"event":"online"/);
  await using bob = await startClient("bob", sp, freePort(), {
    args: ["--json"],
  });
  await bob.type("dereg bob");
  await bob.waitFor(/"event":"offline"/);
  const r = await run([
    ...bot(sp, "send bob saved for later", "send_all hi all", "send nobody x"),
    "--json",
  ]);
  assertEquals(r.code, 4, r.stderr);
  await bob.type("reg bob");
  await bob.waitFor(/"event":"offline_message"/);
  await bob.type("bogus");
  await bob.waitFor(/"event":"usage"/);
  await server.type("stats");
  await server.waitFor(/"event":"stats"/);
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
  const all = [
    ...server.lines,
    ...bob.lines,
    ...r.lines,
    ...r.stderr.split("\n").filter((l) => l !== ""),
  ];
  const names = new Set<string>();
  for (const line of all) {
    const errors = validateJsonLine(line);
    assertEquals(errors, [], line);
    names.add(JSON.parse(line).event);
  }
  for (
    const name of [
      "online",
      "table_updated",
      "table",
      "welcome",
      "saved",
      "group_message",
      "unknown_user",
      "offline_message",
      "stats",
      "usage",
    ]
  ) assert(names.has(name), `no ${name} line`);
  // The saved notice names its recipient; the table is structured rows.
  const saved = r.lines.map((l) => JSON.parse(l)).find((e) =>
    e.event === "saved"
  );
  assertEquals(saved.to, "bob");
  assertMatch(saved.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
  const table = bob.lines.map((l) => JSON.parse(l)).find((e) =>
    e.event === "table"
  );
  assertEquals(table.rows[0], {
    name: "bob",
    ip: "127.0.0.1",
    port: table.rows[0].port,
    online: true,
  });
  const stats = server.lines.map((l) => JSON.parse(l)).find((e) =>
    e.event === "stats"
  );
  assertEquals(typeof stats.dropped, "object");
});
