/**
 * The chat's rules, driven through the real server and client state machines
 * on a fake network with a fake clock: no sockets, no sleeps.
 */
import { ClientState } from "./_client.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { chat, clientAddr, seededBytes, SERVER } from "./_sim.ts";

const SAVED_LONG =
  /^\[Offline Message sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d received by the server and saved\.\]$/;
const SAVED_SHORT =
  /^\[Offline Message sent at \d\d:\d\d:\d\d received by the server and saved\.\]$/;

function decodeAll(bytes: Uint8Array): Message | undefined {
  const r = decodeMessage(bytes);
  return r.ok ? r.message : undefined;
}

Deno.test("ClientState registers, prints the welcome and the table in registration order", () => {
  const { net, addr } = chat(["userA", "userB"]);
  assertEquals(net.lines(addr("userA")), [
    "[Welcome, You are registered.]",
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online']}",
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online']}",
  ]);
  assertEquals(net.lines(SERVER), [
    "[Client table updated.]",
    "[Client table updated.]",
  ]);
});

Deno.test("ClientState send is peer to peer and ACKed", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  const a0 = net.lines(addr("userA")).length;
  let toServer = 0;
  net.filter = (d) => {
    if (d.to.port === SERVER.port) toServer++;
    return false;
  };
  type("userA", "send userB hi  there");
  net.run(50);
  assertEquals(net.lines(addr("userA")).slice(a0), [
    "[Message sent!]",
    "[Message received by userB.]",
  ]);
  assertEquals(net.lines(addr("userB")).at(-1), "userA: hi  there");
  assertEquals(toServer, 0, "the server is not involved");
});

Deno.test("ClientState retransmits inside the 500 ms window when datagrams are lost", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  let dropped = 0;
  // Lose the first two copies of the message.
  net.filter = (d) =>
    d.to.port === 6001 && decodeAll(d.bytes)?.t === "msg" && dropped++ < 2;
  type("userA", "send userB hi");
  net.run(499);
  assertEquals(net.lines(addr("userA")).slice(-2), [
    "[Message sent!]",
    "[Message received by userB.]",
  ]);
  assertEquals(
    net.lines(addr("userB")).filter((l) => l === "userA: hi").length,
    1,
  );
});

Deno.test("ClientState shows a duplicated message once and ACKs it again", () => {
  const { net, type, addr } = chat(["userA", "userB"], { duplicate: 1 });
  type("userA", "send userB once");
  net.run(200);
  assertEquals(
    net.lines(addr("userB")).filter((l) => l === "userA: once").length,
    1,
  );
  assertEquals(
    net.lines(addr("userA")).filter((l) => l === "[Message received by userB.]")
      .length,
    1,
  );
});

Deno.test("ClientState falls back to the server after 500 ms without an ACK; the server saves it", () => {
  const { net, type, addr } = chat(["userA", "userB", "userC"]);
  net.remove(addr("userB")); // userB vanished without dereg
  const a0 = net.lines(addr("userA")).length;
  const c0 = net.lines(addr("userC")).length;
  const start = net.now;
  type("userA", "send userB are you there");
  net.run(499);
  assertEquals(
    net.lines(addr("userA")).slice(a0),
    ["[Message sent!]"],
    "nothing else before the window ends",
  );
  net.run(2000);
  const a = net.lines(addr("userA")).slice(a0);
  assertEquals(a.length, 4, a.join("\n"));
  assertMatch(a[1], SAVED_LONG);
  assertEquals(a.slice(2), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Offline'], 'userC': ['127.0.0.1', 6002, 'Online']}",
  ]);
  assertEquals(
    net.lines(addr("userC")).slice(c0)[0],
    "[Client table updated.]",
  );
  assert(net.now - start >= 1000);
});

Deno.test("ClientState: the server delivers a fallback message if the recipient answers it", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  // userA cannot reach userB directly, but the server can.
  net.filter = (d) => d.to.port === 6001 && d.from.port === 6000;
  type("userA", "send userB via server");
  net.run(2000);
  assertEquals(net.lines(addr("userA")).slice(-2), [
    "[Message sent!]",
    "[Message received by userB.]",
  ]);
  assertEquals(
    net.lines(addr("userB")).filter((l) => l === "userA: via server").length,
    1,
  );
});

Deno.test("ClientState: the server is gone: 5 retries at 500 ms, then exit 1", () => {
  const { net, type, addr, clients } = chat(["userA", "userB"]);
  net.remove(SERVER);
  const b0 = net.lines(addr("userB")).length;
  const start = net.now;
  type("userB", "dereg userB");
  net.run(499);
  assertEquals(net.lines(addr("userB")).slice(b0), []);
  net.run(2);
  assertEquals(net.lines(addr("userB")).slice(b0), [
    "[Message sent! 1 time(s) retrying...]",
  ]);
  net.run(10_000);
  assertEquals(net.lines(addr("userB")).slice(b0), [
    ...[1, 2, 3, 4, 5].map((n) => `[Message sent! ${n} time(s) retrying...]`),
    "[Server not responding.]",
    "[Exiting...]",
  ]);
  assertEquals(clients.get("userB")!.exitCode, 1);
  assertEquals(clients.get("userB")!.getTimer(), undefined);
  assert(net.now - start >= 3000);
  // Peer to peer still works without the server.
  type("userA", "send userA still here");
  net.run(100);
  assertEquals(net.lines(addr("userA")).slice(-3), [
    "[Message sent!]",
    "userA: still here",
    "[Message received by userA.]",
  ]);
});

Deno.test("ServerState: dereg, offline saving, reg with the offline list and delivery notices", () => {
  const { net, type, addr } = chat(["userA", "userB", "userC"]);
  type("userA", "dereg userA");
  net.run(100);
  assertEquals(net.lines(addr("userA")).at(-1), "[You are Offline. Bye.]");
  type("userB", "send userA hello");
  net.run(100);
  type("userC", "send_all to everyone");
  net.run(100);
  assertEquals(
    net.lines(addr("userB")).filter((l) => SAVED_LONG.test(l)).length,
    1,
  );
  const c = net.lines(addr("userC"));
  assertEquals(c.slice(-3, -1), [
    "[Group Message received by Server.]",
    "[No ACK from userA, message not delivered.]",
  ]);
  assertMatch(c.at(-1)!, SAVED_SHORT);
  // Offline: commands other than reg get a hint; nothing is received.
  type("userA", "send userB x");
  net.run(10);
  assertEquals(
    net.lines(addr("userA")).at(-1),
    "[You are Offline. Type 'reg userA' to come back online.]",
  );
  const a0 = net.lines(addr("userA")).length;
  type("userA", "reg userA");
  net.run(200);
  const a = net.lines(addr("userA")).slice(a0);
  assertEquals(a.slice(0, 3), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online'], 'userC': ['127.0.0.1', 6002, 'Online']}",
    "[You have offline messages:]",
  ]);
  assertMatch(a[3], /^userB: \d\d:\d\d:\d\d hello$/);
  assertMatch(a[4], /^Group_Chat:userC: \d\d:\d\d:\d\d to everyone$/);
  assertEquals(a.length, 5);
  assertMatch(
    net.lines(addr("userB")).at(-1)!,
    /^\[Offline Message sent at \d\d:\d\d:\d\d received by userA\]$/,
  );
  assertMatch(
    net.lines(addr("userC")).at(-1)!,
    /^\[Offline Message sent at \d\d:\d\d:\d\d received by userA\]$/,
  );
  // The server deleted them once delivered: a second dereg/reg shows none.
  type("userA", "dereg userA");
  net.run(100);
  const a1 = net.lines(addr("userA")).length;
  type("userA", "reg userA");
  net.run(200);
  assertEquals(net.lines(addr("userA")).slice(a1).length, 2);
});

Deno.test("ServerState relays a group message to every Online user and prints it", () => {
  const { net, type, addr } = chat(["userA", "userB", "userC"]);
  type("userA", "send_all hi");
  net.run(100);
  assertEquals(
    net.lines(SERVER).at(-1),
    "[Client userA sent group message: hi ]",
  );
  assertEquals(net.lines(addr("userB")).at(-1), "Group Chat userA: hi");
  assertEquals(net.lines(addr("userC")).at(-1), "Group Chat userA: hi");
  assert(
    !net.lines(addr("userA")).includes("Group Chat userA: hi"),
    "not to the sender",
  );
  assertEquals(
    net.lines(addr("userA")).at(-1),
    "[Group Message received by Server.]",
  );
});

Deno.test("ServerState marks a group recipient that does not ACK Offline and tells the sender", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  net.remove(addr("userB"));
  type("userA", "send_all hi");
  net.run(1000);
  const a = net.lines(addr("userA"));
  assertEquals(a.slice(-5, -2), [
    "[Group Message received by Server.]",
    "[No ACK from userB, message not delivered.]",
    a.at(-3)!,
  ]);
  assertMatch(a.at(-3)!, SAVED_SHORT);
  assertEquals(a.slice(-2), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Offline']}",
  ]);
  assertEquals(net.lines(SERVER).slice(-2), [
    "[Client userA sent group message: hi ]",
    "[Client table updated.]",
  ]);
});

Deno.test("ClientState: dereg or reg with another name is refused locally", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  const s0 = net.lines(SERVER).length;
  type("userB", "dereg userA");
  type("userB", "reg userA");
  net.run(100);
  assertEquals(net.lines(addr("userB")).slice(-2), [
    "[Incorrect username.]",
    "[Incorrect username.]",
  ]);
  assertEquals(net.lines(SERVER).length, s0);
});

Deno.test("ClientState: reg while Online refreshes and the table is broadcast again", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  const s0 = net.lines(SERVER).length;
  type("userB", "reg userB");
  net.run(100);
  assertEquals(net.lines(SERVER).slice(s0), ["[Client table updated.]"]);
  assertEquals(net.lines(addr("userB")).at(-2), "[Client table updated.]");
  assertEquals(net.lines(addr("userA")).at(-2), "[Client table updated.]");
});

Deno.test("ClientState: bad commands give one line and the program goes on", () => {
  const { net, type, addr, clients } = chat(["userA"]);
  const lines = [
    "hello",
    "send",
    "send userB",
    "send nobody hi",
    "send_all",
    "dereg",
    "send bad\u0007name hi",
  ];
  for (const line of lines) type("userA", line);
  net.run(100);
  assertEquals(net.lines(addr("userA")).slice(-7), [
    "[Unknown command: hello. Type help for the list.]",
    "[Usage: send NAME MESSAGE]",
    "[Usage: send NAME MESSAGE]",
    "[Usage: send_all MESSAGE]",
    "[Usage: dereg NAME]",
    "[Unknown user bad\u0007name.]",
    // Not in the table: the server, which knows every user, says so.
    "[Unknown user nobody.]",
  ]);
  assertEquals(clients.get("userA")!.exitCode, undefined);
});

Deno.test("ClientState refuses a message over 16 KiB before sending anything", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  const sent = net.sent;
  type("userA", `send userB ${"é".repeat(8193)}`);
  assertEquals(net.sent, sent);
  assertEquals(
    net.lines(addr("userA")).at(-1),
    "[Message too long: 16386 bytes, the limit is 16384. Nothing was sent.]",
  );
});

Deno.test("long Unicode messages are split under 1,200 bytes and arrive intact on every path", () => {
  const text = Array.from(
    { length: 2000 },
    (_, i) => ["a", "é", "中", "👋", '"', "\\"][i % 6],
  ).join("");
  const { net, type, addr } = chat(["userA", "userB", "userC"], {
    loss: 0.1,
    seed: 7,
  });
  type("userA", `send userB ${text}`);
  net.run(2000);
  type("userA", `send_all ${text}`);
  net.run(2000);
  type("userC", "dereg userC");
  net.run(2000);
  type("userA", `send userC ${text}`);
  net.run(2000);
  type("userC", "reg userC");
  net.run(3000);
  assertEquals(
    net.lines(addr("userB")).filter((l) => l === `userA: ${text}`).length,
    1,
  );
  assertEquals(
    net.lines(addr("userB")).filter((l) => l === `Group Chat userA: ${text}`)
      .length,
    1,
  );
  assertEquals(
    net.lines(addr("userC")).filter((l) =>
      l.endsWith(` ${text}`) && l.startsWith("userA: ")
    ).length,
    1,
  );
  assert(net.largest <= 1200, `largest datagram ${net.largest}`);
});

Deno.test("ServerState: duplicate login from the same address is a re-login", () => {
  const { net, addr } = chat(["userA", "userB"]);
  // userB restarts on the same port: a new client state, no token.
  const b = net.add(
    addr("userB"),
    new ClientState({
      name: "userB",
      server: SERVER,
      random: seededBytes(999),
    }),
  );
  const a0 = net.lines(addr("userA")).length;
  b.start(net.now);
  net.step();
  net.run(200);
  // Seed test case 6: nothing printed for the table (only a key changed).
  assertEquals(net.lines(SERVER).slice(-1), ["[Duplicate login detected.]"]);
  assertEquals(net.lines(addr("userA")).slice(a0), []);
  assertEquals(b.phase, "online");
  assert(net.lines(addr("userB")).includes("[Welcome, You are registered.]"));
});

Deno.test("ServerState: duplicate login from another address is refused while the old session answers", () => {
  const { net, addr, clients } = chat(["userA", "userB"]);
  const other = clientAddr(9);
  const b2 = net.add(
    other,
    new ClientState({
      name: "userB",
      server: SERVER,
      random: seededBytes(998),
    }),
  );
  b2.start(net.now);
  net.step();
  net.run(1000);
  assertEquals(b2.exitCode, 5);
  assertEquals(net.lines(other), [
    "[Username userB is already in use by another session.]",
  ]);
  assertEquals(clients.get("userB")!.phase, "online");
  assertEquals(net.lines(SERVER).at(-1), "[Duplicate login detected.]");
  assert(!net.lines(addr("userA")).at(-1)!.includes("6009"));
});

Deno.test("ServerState: duplicate login from another address takes over when the old session is gone", () => {
  const { net, addr } = chat(["userA", "userB"]);
  net.remove(addr("userB"));
  const other = clientAddr(9);
  const b2 = net.add(
    other,
    new ClientState({
      name: "userB",
      server: SERVER,
      random: seededBytes(997),
    }),
  );
  b2.start(net.now);
  net.step();
  net.run(1000);
  assertEquals(b2.phase, "online");
  assertEquals(
    net.lines(addr("userA")).at(-1),
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6009, 'Online']}",
  );
});

Deno.test("a datagram from another address claiming to be userA is not shown and cannot dereg userA", () => {
  const { net, addr, server } = chat(["userA", "userB"]);
  const attacker = clientAddr(50);
  net.inject(
    attacker,
    addr("userB"),
    encodeMessage({
      t: "msg",
      id: 1,
      from: "userA",
      g: 0,
      k: "x:1:1",
      pi: 0,
      pn: 1,
      text: "forged",
    }),
  );
  net.inject(
    attacker,
    SERVER,
    encodeMessage({ t: "dereg", id: 2, name: "userA", tok: "0".repeat(32) }),
  );
  net.run(100);
  assert(!net.lines(addr("userB")).includes("userA: forged"));
  assertEquals(server.table.map((r) => r[3]), [1, 1]);
  assertEquals(server.stats().dropped.unauthenticated, 1);
});

Deno.test("ServerState answers an unproven address with at most 3x the bytes it sent", () => {
  const { net, server } = chat(["userA"]);
  const spoofed = clientAddr(77);
  const replies: number[] = [];
  const req = encodeMessage({ t: "reg", id: 5, name: "userA" });
  net.filter = (d) => {
    if (d.to.port === spoofed.port) replies.push(d.bytes.length);
    return false;
  };
  net.inject(spoofed, SERVER, req);
  net.inject(
    spoofed,
    SERVER,
    encodeMessage({ t: "reg", id: 6, name: "victim" }),
  );
  net.inject(spoofed, SERVER, encodeMessage({ t: "sync", id: 7, tok: "x" }));
  net.run(100);
  assertEquals(replies.length, 3);
  for (const n of replies) assert(n <= 3 * req.length, `reply of ${n} bytes`);
  assertEquals(
    server.table.length,
    1,
    "no user was registered by a spoofed reg",
  );
});

Deno.test("garbage is dropped and counted, and everything works afterwards", () => {
  const { net, type, addr, server, clients } = chat(["userA", "userB"]);
  const junk = [
    new Uint8Array([0xff, 0xfe]),
    new TextEncoder().encode("not json"),
    new TextEncoder().encode('{"v":2,"t":"ack","id":1}'),
    new TextEncoder().encode('{"v":1,"t":"nope","id":1}'),
    new TextEncoder().encode('{"v":1,"t":"reg","id":-1,"name":"x"}'),
    new Uint8Array(5000),
  ];
  for (const j of junk) {
    net.inject(clientAddr(60), SERVER, j);
    net.inject(clientAddr(60), addr("userA"), j);
  }
  net.run(10);
  const d = server.stats().dropped;
  assertEquals([d.utf8, d.json, d.version, d.type, d.field, d.oversize], [
    1,
    1,
    1,
    1,
    1,
    1,
  ]);
  assertEquals(
    Object.values(clients.get("userA")!.dropped).reduce((a, b) => a + b, 0),
    6,
  );
  type("userA", "send userB still fine");
  net.run(100);
  assertEquals(net.lines(addr("userB")).at(-1), "userA: still fine");
});

Deno.test("a table of 200 users stays under 1,200 bytes a datagram and prints as a summary", () => {
  const names = Array.from({ length: 200 }, (_, i) => `user${i}`);
  const { net, addr } = chat(names);
  net.run(2000);
  assert(net.largest <= 1200, `largest ${net.largest}`);
  const last = net.lines(addr("user0")).at(-1)!;
  assertMatch(last, /^\{200 users: 200 Online, 0 Offline; /);
  assertEquals(
    net.lines(addr("user0")).filter((l) => l.startsWith("{'")).length,
    30,
  );
});

Deno.test("ServerState limits refuse with an explicit line: users, stored messages, pending", () => {
  // Registered users.
  const full = chat(["userA"], { limits: { maxUsers: 1 } });
  const late = full.net.add(
    clientAddr(5),
    new ClientState({ name: "userB", server: SERVER, random: seededBytes(5) }),
  );
  late.start(full.net.now);
  full.net.step();
  full.net.run(1000);
  assertEquals(full.net.lines(clientAddr(5)), [
    "[Server is full: registration refused.]",
  ]);
  assertEquals(late.exitCode, 1);

  // Stored messages per user: the sender is told, for private and group messages.
  const { net, type, addr, server } = chat(["userA", "userB", "userC"], {
    limits: { perUser: 2 },
  });
  type("userB", "dereg userB");
  net.run(100);
  for (const i of [1, 2, 3]) {
    type("userA", `send userB stored ${i}`);
    net.run(100);
  }
  assertEquals(
    net.lines(addr("userA")).filter((l) => SAVED_LONG.test(l)).length,
    2,
  );
  assertEquals(
    net.lines(addr("userA")).at(-1),
    "[Server is full: message not sent.]",
  );
  type("userC", "send_all to all");
  net.run(1000);
  assertEquals(
    net.lines(addr("userC")).at(-1),
    "[Message to userB not saved: the server's storage is full.]",
  );
  assertEquals(server.stats().offlineMessages, 2);

  // Datagrams awaiting an ACK: a group message that would exceed it is refused.
  const busy = chat(["userA", "userB", "userC"], { limits: { maxPending: 1 } });
  busy.type("userA", "send_all too many");
  busy.net.run(100);
  assertEquals(
    busy.net.lines(busy.addr("userA")).at(-1),
    "[Server is full: message not sent.]",
  );
  assert(
    !busy.net.lines(busy.addr("userB")).includes("Group Chat userA: too many"),
  );
});
