/**
 * The seed's seven test cases, replayed with real processes on 127.0.0.1
 * (`deno run --allow-net main.ts`, nothing more), asserting the lines each
 * process prints. Where the seed's transcripts disagree, SEMANTICS.md decides.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { freePort, type Proc, startClient, startServer } from "./_proc.ts";

const STAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
const CLOCK = /^\d\d:\d\d:\d\d$/;

type Status = "Online" | "Offline";

function dict(rows: [string, number, Status][]): string {
  return `{${
    rows.map(([n, p, s]) => `'${n}': ['127.0.0.1', ${p}, '${s}']`).join(", ")
  }}`;
}

/** The lines of a process from `from` on. */
function after(p: Proc, from: number): string[] {
  return p.lines.slice(from);
}

async function exitAll(...procs: Proc[]): Promise<void> {
  for (const p of procs) {
    await p.type("exit");
    assertEquals(await p.status, 0, `${p.label} exits with 0`);
  }
}

Deno.test("seed test case 1: send, dereg, offline messages, reg", async () => {
  const sp = freePort();
  const [a, b, c] = [freePort(), freePort(), freePort()];
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, a);
  await using B = await startClient("userB", sp, b);
  await A.waitForCount("[Client table updated.]", 2);
  await using C = await startClient("userC", sp, c);
  await A.waitForCount("[Client table updated.]", 3);
  await B.waitForCount("[Client table updated.]", 2);
  const all: [string, number, Status][] = [["userA", a, "Online"], [
    "userB",
    b,
    "Online",
  ], ["userC", c, "Online"]];
  assertEquals(A.lines, [
    "[Welcome, You are registered.]",
    "[Client table updated.]",
    dict([["userA", a, "Online"]]),
    "[Client table updated.]",
    dict([["userA", a, "Online"], ["userB", b, "Online"]]),
    "[Client table updated.]",
    dict(all),
  ]);
  assertEquals(C.lines, [
    "[Welcome, You are registered.]",
    "[Client table updated.]",
    dict(all),
  ]);

  let a0 = A.lines.length, b0 = B.lines.length, c0 = C.lines.length;
  await A.type("send userB hi");
  await A.waitFor("[Message received by userB.]", { from: a0 });
  await B.waitFor("userA: hi", { from: b0 });
  await B.type("send userC hi");
  await B.waitFor("[Message received by userC.]", { from: b0 });
  await C.waitFor("userB: hi", { from: c0 });
  await C.type("send userA hi");
  await C.waitFor("[Message received by userA.]", { from: c0 });
  await A.waitFor("userC: hi", { from: a0 });
  assertEquals(after(A, a0), [
    "[Message sent!]",
    "[Message received by userB.]",
    "userC: hi",
  ]);
  assertEquals(after(B, b0), [
    "userA: hi",
    "[Message sent!]",
    "[Message received by userC.]",
  ]);
  assertEquals(after(C, c0), [
    "userB: hi",
    "[Message sent!]",
    "[Message received by userA.]",
  ]);

  a0 = A.lines.length, b0 = B.lines.length, c0 = C.lines.length;
  await A.type("dereg userA");
  await A.waitFor("[You are Offline. Bye.]", { from: a0 });
  const aOff = dict([["userA", a, "Offline"], ["userB", b, "Online"], [
    "userC",
    c,
    "Online",
  ]]);
  await B.waitFor(aOff, { from: b0 });
  await C.waitFor(aOff, { from: c0 });
  await B.type("send userA hello");
  const bSaved = await B.waitFor(
    /^\[Offline Message sent at .* received by the server and saved\.\]$/,
    { from: b0 },
  );
  await C.type("send userA hello");
  const cSaved = await C.waitFor(
    /^\[Offline Message sent at .* received by the server and saved\.\]$/,
    { from: c0 },
  );
  const bStamp = B.lines[bSaved].slice(
    "[Offline Message sent at ".length,
    -" received by the server and saved.]".length,
  );
  const cStamp = C.lines[cSaved].slice(
    "[Offline Message sent at ".length,
    -" received by the server and saved.]".length,
  );
  assertMatch(bStamp, STAMP);
  assertMatch(cStamp, STAMP);

  a0 = A.lines.length;
  await A.type("reg userA");
  await A.waitFor(/^userC: /, { from: a0 });
  assertEquals(after(A, a0), [
    "[Client table updated.]",
    dict(all),
    "[You have offline messages:]",
    `userB: ${bStamp.slice(11)} hello`,
    `userC: ${cStamp.slice(11)} hello`,
  ]);
  await B.waitFor(
    `[Offline Message sent at ${bStamp.slice(11)} received by userA]`,
    { from: b0 },
  );
  await C.waitFor(
    `[Offline Message sent at ${cStamp.slice(11)} received by userA]`,
    { from: c0 },
  );
  assertEquals(after(B, b0), [
    "[Client table updated.]",
    aOff,
    `[Offline Message sent at ${bStamp} received by the server and saved.]`,
    "[Client table updated.]",
    dict(all),
    `[Offline Message sent at ${bStamp.slice(11)} received by userA]`,
  ]);
  await exitAll(A, B, C);
  assertEquals(server.lines, [
    "[Server is online...]",
    ...Array(5).fill("[Client table updated.]"),
  ]);
});

Deno.test("seed test case 2: the server is gone; peer to peer still works", async () => {
  const sp = freePort();
  const [a, b, c] = [freePort(), freePort(), freePort()];
  const server = await startServer(sp);
  await using A = await startClient("userA", sp, a);
  await using B = await startClient("userB", sp, b);
  await using C = await startClient("userC", sp, c);
  await A.waitForCount("[Client table updated.]", 3);
  await B.waitForCount("[Client table updated.]", 2);
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
  assertEquals(server.lines, [
    "[Server is online...]",
    ...Array(3).fill("[Client table updated.]"),
  ]);

  const b0 = B.lines.length;
  await B.type("dereg userB");
  assertEquals(
    await B.status,
    1,
    "userB exits non-zero when the server is gone",
  );
  assertEquals(after(B, b0), [
    "[Message sent! 1 time(s) retrying...]",
    "[Message sent! 2 time(s) retrying...]",
    "[Message sent! 3 time(s) retrying...]",
    "[Message sent! 4 time(s) retrying...]",
    "[Message sent! 5 time(s) retrying...]",
    "[Server not responding.]",
    "[Exiting...]",
  ]);

  const a0 = A.lines.length, c0 = C.lines.length;
  await A.type("send userC hi");
  await A.waitFor("[Message received by userC.]", { from: a0 });
  await C.waitFor("userA: hi", { from: c0 });
  assertEquals(after(A, a0), [
    "[Message sent!]",
    "[Message received by userC.]",
  ]);
  assertEquals(after(C, c0), ["userA: hi"]);
  await exitAll(A, C);
});

Deno.test("seed test case 3: send_all to an Offline user, then reg", async () => {
  const sp = freePort();
  const ports = [freePort(), freePort(), freePort(), freePort()];
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, ports[0]);
  await using B = await startClient("userB", sp, ports[1]);
  await using C = await startClient("userC", sp, ports[2]);
  await using D = await startClient("userD", sp, ports[3]);
  for (const [p, n] of [[A, 4], [B, 3], [C, 2]] as const) {
    await p.waitForCount("[Client table updated.]", n);
  }
  const names = ["userA", "userB", "userC", "userD"];
  const table = (dOnline: Status) =>
    dict(
      names.map((n, i) => [n, ports[i], n === "userD" ? dOnline : "Online"]),
    );

  const d0 = D.lines.length;
  await D.type("dereg userD");
  await D.waitFor("[You are Offline. Bye.]", { from: d0 });
  for (const p of [A, B, C]) await p.waitFor(table("Offline"));

  const a0 = A.lines.length, b0 = B.lines.length, c0 = C.lines.length;
  await A.type("send_all hi");
  await A.waitFor(/received by the server and saved\.\]$/, { from: a0 });
  await B.waitFor("Group Chat userA: hi", { from: b0 });
  await C.waitFor("Group Chat userA: hi", { from: c0 });
  await server.waitFor("[Client userA sent group message: hi ]");
  const saved = A.lines[A.lines.length - 1];
  const clock = saved.slice(
    "[Offline Message sent at ".length,
    "[Offline Message sent at ".length + 8,
  );
  assertMatch(clock, CLOCK);
  assertEquals(after(A, a0), [
    "[Group Message received by Server.]",
    "[No ACK from userD, message not delivered.]",
    `[Offline Message sent at ${clock} received by the server and saved.]`,
  ]);

  await B.type("send userD hello");
  const bs = await B.waitFor(/received by the server and saved\.\]$/, {
    from: b0,
  });
  const bStamp = B.lines[bs].slice(
    "[Offline Message sent at ".length,
    "[Offline Message sent at ".length + 19,
  );
  assertMatch(bStamp, STAMP);

  const d1 = D.lines.length;
  await D.type("reg userD");
  await D.waitFor(/^userB: /, { from: d1 });
  assertEquals(after(D, d1), [
    "[Client table updated.]",
    table("Online"),
    "[You have offline messages:]",
    `Group_Chat:userA: ${clock} hi`,
    `userB: ${bStamp.slice(11)} hello`,
  ]);
  await A.waitFor(`[Offline Message sent at ${clock} received by userD]`, {
    from: a0,
  });
  await B.waitFor(
    `[Offline Message sent at ${bStamp.slice(11)} received by userD]`,
    { from: b0 },
  );
  assertEquals(after(C, c0), [
    "Group Chat userA: hi",
    "[Client table updated.]",
    table("Online"),
  ]);
  await exitAll(A, B, C, D);
  assertEquals(server.lines, [
    "[Server is online...]",
    ...Array(5).fill("[Client table updated.]"),
    "[Client userA sent group message: hi ]",
    "[Client table updated.]",
  ]);
});

Deno.test("seed test case 4: silent leave, send_all, sending to yourself", async () => {
  const sp = freePort();
  const [a, b] = [freePort(), freePort()];
  const server = await startServer(sp);
  await using A = await startClient("userA", sp, a);
  await using B = await startClient("userB", sp, b);
  await A.waitForCount("[Client table updated.]", 2);
  await B.type("exit");
  assertEquals(await B.status, 0);

  const a0 = A.lines.length;
  await A.type("send_all hi");
  await A.waitFor(dict([["userA", a, "Online"], ["userB", b, "Offline"]]), {
    from: a0,
  });
  await A.waitFor(/received by the server and saved\.\]$/, { from: a0 });
  const lines = after(A, a0);
  assertEquals(lines[0], "[Group Message received by Server.]");
  assertEquals(lines[1], "[No ACK from userB, message not delivered.]");
  assertMatch(
    lines[2],
    /^\[Offline Message sent at \d\d:\d\d:\d\d received by the server and saved\.\]$/,
  );
  assertEquals(lines.slice(3), [
    "[Client table updated.]",
    dict([["userA", a, "Online"], ["userB", b, "Offline"]]),
  ]);

  const a1 = A.lines.length;
  await A.type("send userA hi");
  await A.waitFor("[Message received by userA.]", { from: a1 });
  await A.type("send userA hi hi");
  await A.waitForCount("[Message received by userA.]", 2, { from: a1 });
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
  await A.type("send userA hi hi");
  await A.waitForCount("[Message received by userA.]", 3, { from: a1 });
  assertEquals(after(A, a1), [
    "[Message sent!]",
    "userA: hi",
    "[Message received by userA.]",
    "[Message sent!]",
    "userA: hi hi",
    "[Message received by userA.]",
    "[Message sent!]",
    "userA: hi hi",
    "[Message received by userA.]",
  ]);
  assertEquals(server.lines, [
    "[Server is online...]",
    "[Client table updated.]",
    "[Client table updated.]",
    "[Client userA sent group message: hi ]",
    "[Client table updated.]",
  ]);
  await exitAll(A);
});

Deno.test("seed test case 5: dereg and reg only your own name", async () => {
  const sp = freePort();
  const [a, b] = [freePort(), freePort()];
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, a);
  await using B = await startClient("userB", sp, b);
  await A.waitForCount("[Client table updated.]", 2);
  const both: [string, number, Status][] = [["userA", a, "Online"], [
    "userB",
    b,
    "Online",
  ]];

  let b0 = B.lines.length;
  await B.type("dereg userA");
  await B.waitFor("[Incorrect username.]", { from: b0 });
  await B.type("reg userB");
  await B.waitFor(dict(both), { from: b0 });
  assertEquals(after(B, b0), [
    "[Incorrect username.]",
    "[Client table updated.]",
    dict(both),
  ]);

  const a0 = A.lines.length;
  await A.type("dereg userA");
  await A.waitFor("[You are Offline. Bye.]", { from: a0 });
  const aOff = dict([["userA", a, "Offline"], ["userB", b, "Online"]]);
  await B.waitFor(aOff, { from: b0 });
  b0 = B.lines.length;
  await B.type("reg userA");
  await B.waitFor("[Incorrect username.]", { from: b0 });
  await B.type("send userA hi hi");
  const s = await B.waitFor(/received by the server and saved\.\]$/, {
    from: b0,
  });
  const stamp = B.lines[s].slice(
    "[Offline Message sent at ".length,
    "[Offline Message sent at ".length + 19,
  );
  assertMatch(stamp, STAMP);

  const a1 = A.lines.length;
  await A.type("reg userA");
  await A.waitFor(/^userB: /, { from: a1 });
  assertEquals(after(A, a1), [
    "[Client table updated.]",
    dict(both),
    "[You have offline messages:]",
    `userB: ${stamp.slice(11)} hi hi`,
  ]);
  await B.waitFor(
    `[Offline Message sent at ${stamp.slice(11)} received by userA]`,
    { from: b0 },
  );
  await exitAll(A, B);
  assertEquals(server.lines, [
    "[Server is online...]",
    ...Array(5).fill("[Client table updated.]"),
  ]);
});

Deno.test("seed test case 6: duplicate login, then the server is gone", async () => {
  const sp = freePort();
  const [a, b, c] = [freePort(), freePort(), freePort()];
  const server = await startServer(sp);
  await using A = await startClient("userA", sp, a);
  const B1 = await startClient("userB", sp, b);
  await A.waitForCount("[Client table updated.]", 2);
  // The same user starts again on the same port: a re-login.
  B1.kill("SIGINT");
  assertEquals(await B1.status, 0);
  await B1[Symbol.asyncDispose]();
  await using B = await startClient("userB", sp, b);
  await server.waitFor("[Duplicate login detected.]");
  await using C = await startClient("userC", sp, c);
  const all: [string, number, Status][] = [["userA", a, "Online"], [
    "userB",
    b,
    "Online",
  ], ["userC", c, "Online"]];
  await A.waitFor(dict(all));
  await B.waitFor(dict(all));

  const a0 = A.lines.length, b0 = B.lines.length, c0 = C.lines.length;
  await A.type("send_all hello");
  await A.waitFor("[Group Message received by Server.]", { from: a0 });
  await B.waitFor("Group Chat userA: hello", { from: b0 });
  await C.waitFor("Group Chat userA: hello", { from: c0 });
  await A.type("dereg userA");
  await A.waitFor("[You are Offline. Bye.]", { from: a0 });
  const aOff = dict([["userA", a, "Offline"], ["userB", b, "Online"], [
    "userC",
    c,
    "Online",
  ]]);
  await B.waitFor(aOff, { from: b0 });
  await C.waitFor(aOff, { from: c0 });
  await C.type("send userA hi");
  await C.waitFor(
    /^\[Offline Message sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d received by the server and saved\.\]$/,
    {
      from: c0,
    },
  );
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
  assertEquals(server.lines, [
    "[Server is online...]",
    "[Client table updated.]",
    "[Client table updated.]",
    "[Duplicate login detected.]",
    "[Client table updated.]",
    "[Client table updated.]",
    "[Client userA sent group message: hello ]",
    "[Client table updated.]",
  ]);

  const c1 = C.lines.length;
  await C.type("send_all hellooo");
  assertEquals(await C.status, 1);
  assertEquals(after(C, c1), [
    ...[1, 2, 3, 4, 5].map((n) => `[Message sent! ${n} time(s) retrying...]`),
    "[Server not responding.]",
    "[Exiting...]",
  ]);
  const a1 = A.lines.length;
  await A.type("reg userA");
  assertEquals(await A.status, 1);
  assertEquals(after(A, a1).at(-1), "[Exiting...]");
  assert(B.lines.includes("[Welcome, You are registered.]"));
  await exitAll(B);
});

Deno.test("seed test case 7: offline messages from a user who left", async () => {
  const sp = freePort();
  const [a, b, c] = [freePort(), freePort(), freePort()];
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, a);
  await using B = await startClient("userB", sp, b);
  await using C = await startClient("userC", sp, c);
  await A.waitForCount("[Client table updated.]", 3);
  await B.waitForCount("[Client table updated.]", 2);

  await A.type("dereg userA");
  await A.waitFor("[You are Offline. Bye.]");
  const aOff = dict([["userA", a, "Offline"], ["userB", b, "Online"], [
    "userC",
    c,
    "Online",
  ]]);
  await B.waitFor(aOff);
  await C.waitFor(aOff);
  const b0 = B.lines.length;
  await B.type("send userA hii");
  const bs = await B.waitFor(/received by the server and saved\.\]$/, {
    from: b0,
  });
  const bStamp = B.lines[bs].slice(25, 44);
  await B.type("exit");
  assertEquals(await B.status, 0);

  const c0 = C.lines.length;
  await C.type("send_all hello");
  // userA is Offline and userB left silently: neither ACKs.
  await C.waitForCount(/received by the server and saved\.\]$/, 2, {
    from: c0,
  });
  const cl = after(C, c0);
  assertEquals(cl[0], "[Group Message received by Server.]");
  assertEquals(cl.filter((l) => l.startsWith("[No ACK from")).sort(), [
    "[No ACK from userA, message not delivered.]",
    "[No ACK from userB, message not delivered.]",
  ]);
  const gClock = cl[2].slice(25, 33);
  assertMatch(gClock, CLOCK);
  await C.type("send userA hi hi");
  const cs = await C.waitFor(/^\[Offline Message sent at \d{4}/, { from: c0 });
  const cStamp = C.lines[cs].slice(25, 44);

  const a0 = A.lines.length;
  await A.type("reg userA");
  await A.waitFor(/^userC: /, { from: a0 });
  const aOn = dict([["userA", a, "Online"], ["userB", b, "Offline"], [
    "userC",
    c,
    "Online",
  ]]);
  assertEquals(after(A, a0), [
    "[Client table updated.]",
    aOn,
    "[You have offline messages:]",
    `userB: ${bStamp.slice(11)} hii`,
    `Group_Chat:userC: ${gClock} hello`,
    `userC: ${cStamp.slice(11)} hi hi`,
  ]);
  await C.waitFor(`[Offline Message sent at ${gClock} received by userA]`, {
    from: c0,
  });
  await C.waitFor(
    `[Offline Message sent at ${cStamp.slice(11)} received by userA]`,
    { from: c0 },
  );
  await exitAll(A, C);
  assertEquals(server.lines.slice(0, 5), [
    "[Server is online...]",
    ...Array(4).fill("[Client table updated.]"),
  ]);
  assert(server.lines.includes("[Client userC sent group message: hello ]"));
});
