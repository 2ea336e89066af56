/**
 * Unit tests of the client's state machine, driven directly: the test plays
 * the server and the peers by hand, with an explicit clock, and reads exactly
 * what the client sends and prints. No network, no sockets.
 */
import { ClientState } from "./_client.ts";
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { OutputEvent } from "../protocol/events.ts";
import type { Message, Row } from "../protocol/messages.ts";
import { assert, assertEquals } from "./_assert.ts";
import { chat, seededBytes, SERVER } from "./_sim.ts";

const T0 = 1_700_000_000_000;
const HOST = "127.0.0.1";
const at = (port: number): Address => ({ hostname: HOST, port });
const SRV = at(5000);
const A = at(6000), B = at(6001), C = at(6002);
const EVIL = at(6666);
const TOK = "ab".repeat(16);

const ROWS: Row[] = [
  ["userA", HOST, 6000, 1],
  ["userB", HOST, 6001, 1],
  ["userC", HOST, 6002, 1],
];
const TABLE3 =
  "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online'], 'userC': ['127.0.0.1', 6002, 'Online']}";

interface Sent {
  to: Address;
  m: Message;
  size: number;
  at: number;
}

/** A client, a clock, and a hand-played server and peers. */
class Harness {
  now = T0;
  c: ClientState;
  sent: Sent[] = [];
  invalid: Uint8Array[] = [];
  lines: string[] = [];
  events: OutputEvent[] = [];
  #cursor = 0;
  #line = 0;
  #sid = 50_000;

  constructor(name = "userA") {
    this.c = new ClientState({ name, server: SRV, random: seededBytes(3) });
  }

  /** Delivers a datagram to the client. */
  recv(from: Address, m: Message | Uint8Array): void {
    const bytes = m instanceof Uint8Array ? m : encodeMessage(m);
    this.c.receiveDatagram(bytes, from, this.now);
    this.#collect();
  }

  /** A datagram from the server with a fresh id. */
  fromServer(m: Message): number {
    const id = m.id === 0 ? this.#sid++ : m.id;
    this.recv(SRV, { ...m, id });
    return id;
  }

  start(): void {
    this.c.start(this.now);
    this.#collect();
  }

  type(line: string): void {
    this.c.command(line, this.now);
    this.#collect();
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const t = this.c.getTimer();
      if (t === undefined || t > until) break;
      this.now = Math.max(this.now, t);
      this.c.handleTimer(this.now);
      this.#collect();
    }
    this.now = until;
  }

  /** What the client sent since the last call. */
  take(): Sent[] {
    const out = this.sent.slice(this.#cursor);
    this.#cursor = this.sent.length;
    return out;
  }

  /** What the client printed since the last call. */
  said(): string[] {
    const out = this.lines.slice(this.#line);
    this.#line = this.lines.length;
    return out;
  }

  /** The last request the client sent to the server. */
  lastRequest(): Extract<Message, { id: number }> {
    const s = this.sent.findLast((s) =>
      s.to.port === SRV.port && s.m.t !== "ack"
    );
    assert(s !== undefined, "a request to the server");
    return s.m;
  }

  /** Starts and registers the client, then gives it `rows`. */
  online(rows: Row[] = ROWS): void {
    this.start();
    const reg = this.lastRequest();
    assertEquals(reg.t, "reg");
    this.fromServer({ t: "welcome", id: reg.id, tok: TOK, off: 0 });
    this.snapshot(rows, 1);
    this.take();
    this.said();
  }

  /** Sends a one-part table snapshot. */
  snapshot(rows: Row[], ver: number): void {
    this.fromServer({ t: "tbl", id: 0, ver, i: 0, n: 1, rows });
  }

  #collect(): void {
    for (const d of this.c.datagramsToSend()) {
      const r = decodeMessage(d.bytes);
      if (!r.ok) {
        this.invalid.push(d.bytes);
        continue;
      }
      this.sent.push({
        to: d.to,
        m: r.message,
        size: d.bytes.length,
        at: this.now,
      });
    }
    for (const e of this.c.events()) {
      this.events.push(e);
      this.lines.push(e.text);
    }
  }
}

function to(sent: Sent[], addr: Address): Message[] {
  return sent.filter((s) => s.to.port === addr.port).map((s) => s.m);
}

function only<T extends Message["t"]>(
  msgs: Message[],
  t: T,
): Extract<Message, { t: T }>[] {
  return msgs.filter((m): m is Extract<Message, { t: T }> => m.t === t);
}

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

Deno.test("ClientState registers: reg, cookie retry, welcome, then the table in registration order", () => {
  const h = new Harness();
  assertEquals(h.c.phase, "registering");
  h.start();
  h.advance(0);
  const [reg] = h.take();
  assertEquals(reg.to, SRV);
  assertEquals(reg.m, { t: "reg", id: reg.m.id, name: "userA" });
  h.advance(130);
  const again = h.take();
  assert(again.length >= 2, "retransmitted inside the window");
  assert(again.every((s) => s.m.t === "reg" && s.m.id === reg.m.id));
  h.fromServer({ t: "retry", id: reg.m.id, ck: "C".repeat(22) });
  const [reg2] = h.take();
  assertEquals(reg2.m.t, "reg");
  assert(reg2.m.t === "reg" && reg2.m.ck === "C".repeat(22));
  assert(reg2.m.id !== reg.m.id, "a new request");
  h.fromServer({ t: "welcome", id: reg2.m.id, tok: TOK, off: 0 });
  assertEquals(h.c.phase, "online");
  assertEquals(h.said(), ["[Welcome, You are registered.]"]);
  const tid = h.fromServer({
    t: "tbl",
    id: 0,
    ver: 1,
    i: 0,
    n: 1,
    rows: [["userA", HOST, 6000, 1]],
  });
  assertEquals(h.said(), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online']}",
  ]);
  assertEquals(to(h.take(), SRV), [{ t: "ack", id: tid }]);
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 2,
    from: 1,
    rows: [["userB", HOST, 6001, 1]],
  });
  assertEquals(h.said(), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online']}",
  ]);
  assertEquals(h.c.table, [["userA", HOST, 6000, 1], ["userB", HOST, 6001, 1]]);
  // Idle: nothing is due but the keepalive, 15 to 25 s on.
  const due = h.c.getTimer()! - h.now;
  assert(due >= 15_000 && due <= 25_000, `keepalive in ${due} ms`);
  assert(h.c.idle);
});

Deno.test("ClientState gathers a split snapshot before printing it, once", () => {
  const h = new Harness();
  h.start();
  h.fromServer({ t: "welcome", id: h.lastRequest().id, tok: TOK, off: 0 });
  h.said();
  h.fromServer({ t: "tbl", id: 0, ver: 3, i: 1, n: 2, rows: [ROWS[2]] });
  assertEquals(h.said(), []);
  const id = h.fromServer({
    t: "tbl",
    id: 0,
    ver: 3,
    i: 0,
    n: 2,
    rows: ROWS.slice(0, 2),
  });
  assertEquals(h.said(), ["[Client table updated.]", TABLE3]);
  h.recv(SRV, { t: "tbl", id, ver: 3, i: 0, n: 2, rows: ROWS.slice(0, 2) });
  assertEquals(h.said(), [], "a repeat is ACKed, not shown again");
  assertEquals(
    to(h.take(), SRV).filter((m) => m.t === "ack" && m.id === id).length,
    2,
  );
});

Deno.test("ClientState asks for the table if none comes within 2 s of the welcome", () => {
  const h = new Harness();
  h.start();
  h.fromServer({ t: "welcome", id: h.lastRequest().id, tok: TOK, off: 0 });
  h.take();
  h.advance(1999);
  assertEquals(to(h.take(), SRV), []);
  h.advance(1);
  const [sync] = to(h.take(), SRV);
  assertEquals(sync, { t: "sync", id: sync.id, tok: TOK });
});

Deno.test("ClientState waits for the table before running typed commands", () => {
  const h = new Harness();
  h.start();
  h.type("send userB early");
  h.fromServer({ t: "welcome", id: h.lastRequest().id, tok: TOK, off: 0 });
  h.take();
  assertEquals(h.said(), ["[Welcome, You are registered.]"]);
  h.snapshot(ROWS, 1);
  assertEquals(h.said(), [
    "[Client table updated.]",
    TABLE3,
    "[Message sent!]",
  ]);
  const [msg] = only(to(h.take(), B), "msg");
  assertEquals(msg.text, "early");
});

Deno.test("ClientState exits 5 when its name is in use by another session", () => {
  const h = new Harness();
  h.start();
  h.fromServer({
    t: "err",
    id: h.lastRequest().id,
    code: "name_in_use",
    name: "userA",
  });
  assertEquals(h.said(), [
    "[Username userA is already in use by another session.]",
  ]);
  assertEquals(h.c.exitCode, 5);
  assertEquals(h.c.phase, "exited");
  assertEquals(h.c.getTimer(), undefined);
});

// ---------------------------------------------------------------------------
// The server is gone
// ---------------------------------------------------------------------------

Deno.test("ClientState: no answer from the server: 5 retries at 500 ms, then exit 1 at 3 s", () => {
  const h = new Harness();
  h.online();
  const t0 = h.now;
  h.type("dereg userA");
  const dereg = h.lastRequest();
  assertEquals(dereg, { t: "dereg", id: dereg.id, name: "userA", tok: TOK });
  h.advance(499);
  assertEquals(h.said(), [], "nothing before 500 ms");
  const copies = to(h.take(), SRV);
  assert(
    copies.length >= 6,
    "retransmitted inside the window: " + copies.length,
  );
  for (let n = 1; n <= 5; n++) {
    h.advance(1);
    assertEquals(
      h.said(),
      [`[Message sent! ${n} time(s) retrying...]`],
      `at ${h.now - t0}`,
    );
    assertEquals(h.now - t0, 500 * n);
    h.advance(499);
    assertEquals(h.said(), []);
  }
  assertEquals(h.c.exitCode, undefined);
  h.advance(1);
  assertEquals(h.now - t0, 3000);
  assertEquals(h.said(), ["[Server not responding.]", "[Exiting...]"]);
  assertEquals(h.c.exitCode, 1);
  assertEquals(h.c.phase, "exited");
  assertEquals(h.c.getTimer(), undefined);
  // Every copy was the same request.
  const all = to(h.take(), SRV);
  assert(all.every((m) => m.t === "dereg" && m.id === dereg.id));
  assert(all.length >= 30);
  // Nothing more: a late answer and new commands are ignored.
  h.recv(SRV, { t: "ack", id: dereg.id });
  h.type("send userB hi");
  assertEquals(h.said(), []);
  assertEquals(h.take(), []);
});

Deno.test("ClientState: a request answered in its third window goes on normally", () => {
  const h = new Harness();
  h.online();
  h.type("send_all hi");
  h.advance(1200);
  assertEquals(h.said(), [
    "[Message sent! 1 time(s) retrying...]",
    "[Message sent! 2 time(s) retrying...]",
  ]);
  h.recv(SRV, { t: "ack", id: h.lastRequest().id });
  assertEquals(h.said(), ["[Group Message received by Server.]"]);
  h.advance(10_000);
  assertEquals(h.said(), []);
  assertEquals(h.c.exitCode, undefined);
});

Deno.test("ClientState: the first registration also gives up after 3 s without a server", () => {
  const h = new Harness();
  h.start();
  h.advance(3000);
  assertEquals(h.said(), [
    // The person sent nothing: the retries say they register, and where.
    ...[1, 2, 3, 4, 5].map((n) =>
      `[Registering with 127.0.0.1:5000: no answer, trying again (${n} of 5)...]`
    ),
    "[Server not responding.]",
    "[Exiting...]",
  ]);
  assertEquals(h.c.exitCode, 1);
});

// ---------------------------------------------------------------------------
// send, peer to peer
// ---------------------------------------------------------------------------

Deno.test("ClientState send goes peer to peer; the peer's ACK prints the receipt", () => {
  const h = new Harness();
  h.online();
  h.type("send userB hi  there ");
  assertEquals(h.said(), ["[Message sent!]"]);
  const sent = h.take();
  assertEquals(to(sent, SRV), [], "the server is not involved");
  const [msg] = only(to(sent, B), "msg");
  assertEquals(msg, {
    t: "msg",
    id: msg.id,
    from: "userA",
    g: 0,
    k: msg.k,
    pi: 0,
    pn: 1,
    text: "hi  there ",
  });
  h.recv(C, { t: "ack", id: msg.id }); // from the wrong address
  assertEquals(h.said(), []);
  assertEquals(h.c.dropped.stray_ack, 1);
  h.advance(30);
  h.recv(B, { t: "ack", id: msg.id });
  assertEquals(h.said(), ["[Message received by userB.]"]);
  h.recv(B, { t: "ack", id: msg.id });
  assertEquals(h.said(), [], "one receipt");
  h.advance(5000);
  assertEquals(h.said(), []);
  assertEquals(h.c.outcomes, { delivered: 1, saved: 0, refused: 0 });
});

Deno.test("ClientState send: no ACK within 500 ms goes to the server, which saves it", () => {
  const h = new Harness();
  h.online();
  h.type("send userB are you there");
  assertEquals(h.said(), ["[Message sent!]"]);
  const [first] = only(to(h.take(), B), "msg");
  h.advance(499);
  const copies = only(to(h.take(), B), "msg");
  assert(copies.length >= 5 && copies.every((m) => m.id === first.id));
  assertEquals(to(h.sent, SRV).filter((m) => m.t === "save"), []);
  h.advance(1);
  const [save] = to(h.take(), SRV);
  assertEquals(save, {
    t: "save",
    id: save.id,
    tok: TOK,
    to: "userB",
    k: first.k,
    pi: 0,
    pn: 1,
    text: "are you there",
  });
  assertEquals(h.said(), []);
  h.recv(SRV, { t: "ack", id: save.id, r: "saved", at: "2023-10-21 02:14:41" });
  assertEquals(h.said(), [
    "[Offline Message sent at 2023-10-21 02:14:41 received by the server and saved.]",
  ]);
  assertEquals(h.c.outcomes.saved, 1);
  // userB did not answer directly: until the table says otherwise, its
  // messages go through the server (in order), still as a send to an Online user.
  h.type("send userB again");
  assertEquals(h.said(), ["[Message sent!]"]);
  const sent = h.take();
  assertEquals(to(sent, B), []);
  assertEquals(to(sent, SRV)[0].t, "save");
  // A table change for userB makes it worth a direct try again.
  h.recv(SRV, {
    t: "ack",
    id: h.lastRequest().id,
    r: "saved",
    at: "2023-10-21 02:14:42",
  });
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 2,
    from: 1,
    rows: [["userB", HOST, 6001, 0]],
  });
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 3,
    from: 2,
    rows: [["userB", HOST, 6001, 1]],
  });
  h.take();
  h.said();
  h.type("send userB back?");
  assertEquals(h.said(), ["[Message sent!]"]);
  assertEquals(only(to(h.take(), B), "msg").length, 1);
});

Deno.test("ClientState send: the server delivers it after all and says so", () => {
  const h = new Harness();
  h.online();
  h.type("send userB via server");
  assertEquals(h.said(), ["[Message sent!]"]);
  h.advance(500);
  const save = h.lastRequest();
  assertEquals(save.t, "save");
  h.recv(SRV, { t: "ack", id: save.id, r: "pending" });
  assertEquals(h.said(), []);
  assert(save.t === "save");
  const nid = h.fromServer({
    t: "note",
    id: 0,
    k: "rcv",
    name: "userB",
    ref: save.k,
  });
  assertEquals(h.said(), ["[Message received by userB.]"]);
  assertEquals(to(h.take(), SRV).at(-1), { t: "ack", id: nid });
  assertEquals(h.c.outcomes.delivered, 1);
});

Deno.test("ClientState send: a notice that overtakes the server's ACK waits for it", () => {
  const h = new Harness();
  h.online();
  h.snapshot([ROWS[0], ["userB", HOST, 6001, 0]], 2);
  h.said();
  h.type("send userB x");
  const save = h.lastRequest();
  assert(save.t === "save");
  h.fromServer({
    t: "note",
    id: 0,
    k: "saved",
    name: "userB",
    ref: save.k,
    at: "2023-10-21 02:14:41",
  });
  assertEquals(h.said(), []);
  h.recv(SRV, { t: "ack", id: save.id, r: "pending" });
  assertEquals(h.said(), [
    "[Offline Message sent at 2023-10-21 02:14:41 received by the server and saved.]",
  ]);
  assertEquals(h.c.outcomes.saved, 1);
});

Deno.test("ClientState send to a user Offline in its table goes to the server at once", () => {
  const h = new Harness();
  h.online([ROWS[0], ["userB", HOST, 6001, 0]]);
  h.type("send userB hello");
  assertEquals(h.said(), [], "no [Message sent!]");
  const sent = h.take();
  assertEquals(to(sent, B), []);
  const [save] = to(sent, SRV);
  assert(save.t === "save" && save.to === "userB" && save.text === "hello");
  h.recv(SRV, { t: "ack", id: save.id, r: "saved", at: "2023-10-21 02:40:58" });
  assertEquals(h.said(), [
    "[Offline Message sent at 2023-10-21 02:40:58 received by the server and saved.]",
  ]);
});

Deno.test("ClientState send to a name it does not know asks the server: one error line", () => {
  const h = new Harness();
  h.online();
  h.type("send nobody hi");
  const req = h.lastRequest();
  assert(req.t === "save" && req.to === "nobody");
  h.recv(SRV, { t: "err", id: req.id, code: "unknown_user", name: "nobody" });
  assertEquals(h.said(), ["[Unknown user nobody.]"]);
  assertEquals(h.c.outcomes.refused, 1);
  // An impossible name is refused without asking.
  h.take();
  h.type("send bad'name hi");
  assertEquals(h.said(), ["[Unknown user bad'name.]"]);
  assertEquals(h.take(), []);
  assertEquals(h.c.exitCode, undefined);
});

Deno.test("ClientState send to yourself works like to anyone", () => {
  const h = new Harness();
  h.online();
  h.type("send userA hi hi");
  const [msg] = only(to(h.take(), A), "msg");
  h.recv(A, msg);
  const [ack] = to(h.take(), A);
  assertEquals(ack, { t: "ack", id: msg.id });
  h.recv(A, ack);
  assertEquals(h.said(), [
    "[Message sent!]",
    "userA: hi hi",
    "[Message received by userA.]",
  ]);
  assertEquals(h.events.at(-2)!.kind, "own");
});

Deno.test("ClientState sends to one peer one message at a time, in order", () => {
  const h = new Harness();
  h.online();
  h.type("send userB one");
  h.type("send userB two");
  h.type("send userC three");
  assertEquals(h.said(), ["[Message sent!]", "[Message sent!]"]);
  let sent = h.take();
  assertEquals(only(to(sent, B), "msg").map((m) => m.text), ["one"]);
  assertEquals(only(to(sent, C), "msg").map((m) => m.text), ["three"]);
  h.recv(B, { t: "ack", id: only(to(sent, B), "msg")[0].id });
  assertEquals(h.said(), ["[Message received by userB.]", "[Message sent!]"]);
  sent = h.take();
  assertEquals(only(to(sent, B), "msg").map((m) => m.text), ["two"]);
});

Deno.test("ClientState splits a long message into parts under 1,200 bytes", () => {
  const h = new Harness();
  h.online();
  const text = Array.from(
    { length: 10 * 1024 / 4 },
    (_, i) => ["a", "é", "中", "👋"][i % 4],
  )
    .join("");
  h.type(`send userB ${text}`);
  const parts = only(to(h.take(), B), "msg");
  assert(parts.length > 1);
  assert(h.sent.every((s) => s.size <= 1200));
  assertEquals(parts.map((p) => p.text).join(""), text);
  assert(
    parts.every((p, i) =>
      p.pi === i && p.pn === parts.length && p.k === parts[0].k
    ),
  );
  for (const p of parts.slice(0, -1)) h.recv(B, { t: "ack", id: p.id });
  assertEquals(h.said(), ["[Message sent!]"], "not before every part is ACKed");
  h.recv(B, { t: "ack", id: parts.at(-1)!.id });
  assertEquals(h.said(), ["[Message received by userB.]"]);
});

Deno.test("ClientState refuses a message over 16 KiB before sending anything", () => {
  const h = new Harness();
  h.online();
  h.type(`send userB ${"x".repeat(16_385)}`);
  h.type(`send_all ${"é".repeat(8_193)}`);
  assertEquals(h.said(), [
    "[Message too long: 16385 bytes, the limit is 16384. Nothing was sent.]",
    "[Message too long: 16386 bytes, the limit is 16384. Nothing was sent.]",
  ]);
  assertEquals(h.take(), []);
  assertEquals(h.c.outcomes.refused, 2);
  h.type(`send userB ${"x".repeat(16_384)}`);
  assertEquals(h.said(), ["[Message sent!]"]);
  assertEquals(only(to(h.take(), B), "msg").length, 19);
});

Deno.test("ClientState never sends a datagram the other side would drop, even for 16 KiB of tabs", () => {
  const h = new Harness();
  h.online();
  // Every tab takes 6 bytes of JSON: 12,000 of them do not fit 64 parts.
  h.type(`send_all x${"\t".repeat(12_000)}`);
  h.type(`send userB x${"\t".repeat(12_000)}`);
  h.advance(600);
  assertEquals(h.invalid.length, 0);
  for (const s of h.take()) {
    if (s.m.t === "msg" || s.m.t === "all" || s.m.t === "save") {
      assert(s.m.pn <= 64, `a part of ${s.m.pn}`);
    }
  }
  // Refused before sending, with a line each: never a silent failure.
  assertEquals(h.said(), [
    "[Message too long: it needs 81 datagrams, the limit is 64. Nothing was sent.]",
    "[Message too long: it needs 81 datagrams, the limit is 64. Nothing was sent.]",
  ]);
  assertEquals(h.c.outcomes.refused, 2);
  // What fits 64 parts is sent.
  h.type(`send userB x${"\t".repeat(9_000)}`);
  const parts = only(to(h.take(), B), "msg");
  assertEquals(parts.length, 61);
  assertEquals(parts.map((p) => p.text).join(""), `x${"\t".repeat(9_000)}`);
});

// ---------------------------------------------------------------------------
// send_all
// ---------------------------------------------------------------------------

Deno.test("ClientState send_all goes to the server; its ACK and notices print in order", () => {
  const h = new Harness();
  h.online();
  h.type("send_all hi");
  const all = h.lastRequest();
  assert(all.t === "all");
  assertEquals(all, {
    t: "all",
    id: all.id,
    tok: TOK,
    k: all.k,
    pi: 0,
    pn: 1,
    text: "hi",
  });
  assertEquals(to(h.take(), B), [], "not peer to peer");
  // A notice that overtakes the ACK is shown after it.
  h.fromServer({
    t: "note",
    id: 0,
    k: "noack",
    name: "userD",
    ref: all.k,
    at: "2023-10-21 02:55:38",
  });
  assertEquals(h.said(), []);
  h.recv(SRV, { t: "ack", id: all.id });
  assertEquals(h.said(), [
    "[Group Message received by Server.]",
    "[No ACK from userD, message not delivered.]",
    "[Offline Message sent at 02:55:38 received by the server and saved.]",
  ]);
  h.fromServer({
    t: "note",
    id: 0,
    k: "noack",
    name: "userE",
    ref: all.k,
    at: "2023-10-21 02:55:39",
  });
  h.fromServer({ t: "note", id: 0, k: "done", name: "userA", ref: all.k });
  assertEquals(h.said(), [
    "[No ACK from userE, message not delivered.]",
    "[Offline Message sent at 02:55:39 received by the server and saved.]",
  ]);
  assert(h.c.idle);
});

Deno.test("ClientState sends its requests to the server one at a time", () => {
  const h = new Harness();
  h.online();
  h.type("send_all one");
  h.type("send_all two");
  let reqs = to(h.take(), SRV);
  assertEquals(reqs.map((m) => m.t === "all" && m.text), ["one"]);
  h.recv(SRV, { t: "ack", id: reqs[0].id });
  reqs = to(h.take(), SRV);
  assertEquals(reqs.map((m) => m.t === "all" && m.text), ["two"]);
  h.recv(SRV, { t: "ack", id: reqs[0].id });
  assertEquals(h.said(), [
    "[Group Message received by Server.]",
    "[Group Message received by Server.]",
  ]);
});

// ---------------------------------------------------------------------------
// Incoming
// ---------------------------------------------------------------------------

Deno.test("ClientState shows a message once though it arrives twice, and ACKs every copy", () => {
  const h = new Harness();
  h.online();
  const m: Message = {
    t: "msg",
    id: 77,
    from: "userB",
    g: 0,
    k: "userB:x:1",
    pi: 0,
    pn: 1,
    text: "hello",
  };
  h.recv(B, m);
  h.recv(B, m);
  // The same message relayed by the server (another id, same key).
  h.recv(SRV, { ...m, id: 78 });
  assertEquals(h.said(), ["userB: hello"]);
  assertEquals(h.events[h.events.length - 1].bell, true);
  assertEquals(to(h.take(), B), [{ t: "ack", id: 77 }, { t: "ack", id: 77 }]);
  assertEquals(h.c.dropped.duplicate, 1);
});

Deno.test("ClientState shows group messages from the server", () => {
  const h = new Harness();
  h.online();
  h.fromServer({
    t: "msg",
    id: 0,
    from: "userC",
    g: 1,
    k: "c:1",
    pi: 0,
    pn: 1,
    text: "hey all",
  });
  assertEquals(h.said(), ["Group Chat userC: hey all"]);
});

Deno.test("ClientState reassembles parts that arrive out of order", () => {
  const h = new Harness();
  h.online();
  const parts = ["A".repeat(900), "👋".repeat(225), "end"];
  for (const pi of [2, 0, 1]) {
    h.recv(B, {
      t: "msg",
      id: 100 + pi,
      from: "userB",
      g: 0,
      k: "b:9",
      pi,
      pn: 3,
      text: parts[pi],
    });
  }
  assertEquals(h.said(), [`userB: ${parts.join("")}`]);
  assertEquals(to(h.take(), B).length, 3, "every part ACKed");
});

Deno.test("ClientState does not show a message forged from another address", () => {
  const h = new Harness();
  h.online();
  h.recv(EVIL, {
    t: "msg",
    id: 1,
    from: "userB",
    g: 0,
    k: "f:1",
    pi: 0,
    pn: 1,
    text: "forged",
  });
  h.recv(EVIL, {
    t: "msg",
    id: 2,
    from: "nobody",
    g: 0,
    k: "f:2",
    pi: 0,
    pn: 1,
    text: "forged",
  });
  // Server-only datagrams from a peer.
  h.recv(B, {
    t: "tbl",
    id: 3,
    ver: 9,
    i: 0,
    n: 1,
    rows: [["userA", HOST, 1, 0]],
  });
  h.recv(B, { t: "welcome", id: 4, tok: "x", off: 0 });
  h.recv(B, {
    t: "note",
    id: 5,
    k: "dlv",
    name: "userB",
    ref: "r",
    at: "2023-10-21 02:14:41",
  });
  h.recv(B, {
    t: "msg",
    id: 6,
    from: "userB",
    g: 0,
    k: "f:3",
    pi: 0,
    pn: 1,
    text: "x",
    at: "2023-10-21 02:14:41",
    o: 1,
  });
  assertEquals(h.said(), []);
  assertEquals(h.take(), [], "nothing ACKed");
  assertEquals(h.c.dropped.impersonation, 2);
  assertEquals(h.c.dropped.not_server, 3);
  assertEquals(h.c.table, ROWS);
});

Deno.test("ClientState ACKs a ping from the server", () => {
  const h = new Harness();
  h.online();
  const id = h.fromServer({ t: "ping", id: 0 });
  assertEquals(to(h.take(), SRV), [{ t: "ack", id }]);
  assertEquals(h.said(), []);
});

Deno.test("ClientState drops and counts garbage and keeps working", () => {
  const h = new Harness();
  h.online();
  const e = new TextEncoder();
  for (
    const j of [
      new Uint8Array(1300),
      new Uint8Array([0xff]),
      e.encode("{nope"),
      e.encode('{"v":3,"t":"ack","id":1}'),
      e.encode('{"v":1,"t":"x","id":1}'),
      e.encode('{"v":1,"t":"msg","id":1}'),
      encodeMessage({ t: "reg", id: 1, name: "userB" }),
    ]
  ) {
    h.recv(B, j);
    h.recv(SRV, j);
  }
  assertEquals(h.c.dropped.oversize, 2);
  assertEquals(h.c.dropped.utf8, 2);
  assertEquals(h.c.dropped.json, 2);
  assertEquals(h.c.dropped.version, 2);
  assertEquals(h.c.dropped.type, 2);
  assertEquals(h.c.dropped.field, 2);
  assertEquals(h.c.dropped.unexpected, 2);
  assertEquals(h.said(), []);
  assertEquals(h.take(), []);
  h.recv(B, {
    t: "msg",
    id: 1,
    from: "userB",
    g: 0,
    k: "b:1",
    pi: 0,
    pn: 1,
    text: "still fine",
  });
  assertEquals(h.said(), ["userB: still fine"]);
});

Deno.test("ClientState rate-limits a flooding peer but never the server", () => {
  const h = new Harness();
  h.online();
  for (let i = 0; i < 600; i++) {
    h.recv(B, {
      t: "msg",
      id: i,
      from: "userB",
      g: 0,
      k: `b:${i}`,
      pi: 0,
      pn: 1,
      text: `${i}`,
    });
  }
  assertEquals(h.said().length, 500);
  assertEquals(h.c.dropped.rate, 100);
  for (let i = 0; i < 600; i++) h.fromServer({ t: "ping", id: 0 });
  assertEquals(h.c.dropped.rate, 100);
});

// ---------------------------------------------------------------------------
// dereg, reg, the offline list
// ---------------------------------------------------------------------------

Deno.test("ClientState dereg and reg only for its own name", () => {
  const h = new Harness();
  h.online();
  h.type("dereg userB");
  h.type("reg userB");
  assertEquals(h.said(), ["[Incorrect username.]", "[Incorrect username.]"]);
  assertEquals(h.take(), [], "nothing sent");
});

Deno.test("ClientState while Offline: receives nothing, answers commands with a hint", () => {
  const h = new Harness();
  h.online();
  h.type("dereg userA");
  h.recv(SRV, { t: "ack", id: h.lastRequest().id });
  assertEquals(h.said(), ["[You are Offline. Bye.]"]);
  assertEquals(h.c.phase, "offline");
  h.take();
  h.recv(B, {
    t: "msg",
    id: 1,
    from: "userB",
    g: 0,
    k: "b:1",
    pi: 0,
    pn: 1,
    text: "hi",
  });
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 2,
    from: 1,
    rows: [["userB", HOST, 6001, 0]],
  });
  assertEquals(h.said(), []);
  assertEquals(
    h.take(),
    [],
    "not even ACKed: the sender falls back to the server",
  );
  assertEquals(h.c.dropped.offline, 2);
  h.type("send userB x");
  h.type("send_all x");
  h.type("dereg userA");
  h.type("dereg userB");
  h.type("reg userB");
  assertEquals(h.said(), [
    "[You are Offline. Type 'reg userA' to come back online.]",
    "[You are Offline. Type 'reg userA' to come back online.]",
    "[You are Offline. Bye.]",
    "[Incorrect username.]",
    "[Incorrect username.]",
  ]);
  assertEquals(h.take(), []);
});

Deno.test("ClientState reg: the table, then the offline list in order whatever the arrival order", () => {
  const h = new Harness();
  h.online();
  h.type("dereg userA");
  h.recv(SRV, { t: "ack", id: h.lastRequest().id });
  h.said();
  h.type("reg userA");
  const reg = h.lastRequest();
  assertEquals(reg, { t: "reg", id: reg.id, name: "userA", tok: TOK });
  h.fromServer({ t: "welcome", id: reg.id, tok: TOK, off: 3, o0: 4 });
  assertEquals(h.said(), [], "no second welcome line");
  const msg = (
    o: number,
    from: string,
    g: 0 | 1,
    text: string,
    stamp: string,
  ) =>
    h.fromServer({
      t: "msg",
      id: 0,
      from,
      g,
      k: `${from}:${o}`,
      pi: 0,
      pn: 1,
      text,
      at: stamp,
      o,
    });
  msg(5, "userC", 1, "hi all", "2023-10-21 02:22:40");
  h.snapshot(ROWS, 7);
  assertEquals(h.said(), ["[Client table updated.]", TABLE3]);
  msg(6, "userA", 0, "to me", "2023-10-21 02:22:59");
  assertEquals(h.said(), [], "waits for the first entry");
  msg(4, "userB", 0, "hello", "2023-10-21 02:14:41");
  assertEquals(h.said(), [
    "[You have offline messages:]",
    "userB: 02:14:41 hello",
    "Group_Chat:userC: 02:22:40 hi all",
    "userA: 02:22:59 to me",
  ]);
  assert(h.c.idle);
});

Deno.test("ClientState shows a saved message it already showed live only once, without an empty list", () => {
  const h = new Harness();
  h.online();
  // Shown live; the ACK is lost, the server saves it and the client comes back.
  h.fromServer({
    t: "msg",
    id: 0,
    from: "userB",
    g: 1,
    k: "b:7",
    pi: 0,
    pn: 1,
    text: "hello",
  });
  assertEquals(h.said(), ["Group Chat userB: hello"]);
  h.type("reg userA");
  const reg = h.lastRequest();
  h.fromServer({ t: "welcome", id: reg.id, tok: TOK, off: 1, o0: 1 });
  h.snapshot(ROWS, 5);
  const id = h.fromServer({
    t: "msg",
    id: 0,
    from: "userB",
    g: 1,
    k: "b:7",
    pi: 0,
    pn: 1,
    text: "hello",
    at: "2023-10-21 02:14:41",
    o: 1,
  });
  assertEquals(h.said(), ["[Client table updated.]", TABLE3]);
  assertEquals(
    to(h.take(), SRV).at(-1),
    { t: "ack", id },
    "ACKed, so it is deleted",
  );
  assert(h.c.idle);
  // A later list with a new entry has its header.
  h.type("reg userA");
  const reg2 = h.lastRequest();
  h.fromServer({ t: "welcome", id: reg2.id, tok: TOK, off: 2, o0: 2 });
  h.snapshot(ROWS, 6);
  h.fromServer({
    t: "msg",
    id: 0,
    from: "userB",
    g: 1,
    k: "b:7",
    pi: 0,
    pn: 1,
    text: "hello",
    at: "2023-10-21 02:14:41",
    o: 2,
  });
  h.fromServer({
    t: "msg",
    id: 0,
    from: "userC",
    g: 0,
    k: "c:8",
    pi: 0,
    pn: 1,
    text: "new",
    at: "2023-10-21 02:15:00",
    o: 3,
  });
  assertEquals(h.said(), [
    "[Client table updated.]",
    TABLE3,
    "[You have offline messages:]",
    "userC: 02:15:00 new",
  ]);
});

Deno.test("ClientState prints what became of its saved messages: received by NAME", () => {
  const h = new Harness();
  h.online();
  h.fromServer({
    t: "note",
    id: 0,
    k: "dlv",
    name: "userB",
    ref: "userA:x:1",
    at: "2023-10-21 02:14:41",
  });
  h.fromServer({
    t: "note",
    id: 0,
    k: "refused",
    name: "userC",
    ref: "userA:x:2",
  });
  assertEquals(h.said(), [
    "[Offline Message sent at 02:14:41 received by userB]",
    "[Message to userC not saved: the server's storage is full.]",
  ]);
});

Deno.test("ClientState: reg while Online refreshes and prints the table again", () => {
  const h = new Harness();
  h.online();
  h.type("reg userA");
  const reg = h.lastRequest();
  assert(reg.t === "reg" && reg.tok === TOK);
  h.fromServer({ t: "welcome", id: reg.id, tok: TOK, off: 0 });
  h.snapshot(ROWS, 9);
  assertEquals(h.said(), ["[Client table updated.]", TABLE3]);
});

// ---------------------------------------------------------------------------
// Table details
// ---------------------------------------------------------------------------

Deno.test("ClientState prints a table above 30 rows as a one-line summary", () => {
  const h = new Harness();
  const rows: Row[] = Array.from(
    { length: 30 },
    (_, i) => [`u${i}`, HOST, 7000 + i, 1],
  );
  h.online([["userA", HOST, 6000, 1], ...rows.slice(0, 29)]);
  assertEquals(h.lines.at(-1)!.slice(0, 2), "{'", "30 rows: the dict");
  h.fromServer({ t: "tbl", id: 0, ver: 2, from: 1, rows: [rows[29]] });
  assertEquals(h.said(), [
    "[Client table updated.]",
    "{31 users: 31 Online, 0 Offline; changed: u29 Online}",
  ]);
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 3,
    from: 2,
    rows: [[`u5`, HOST, 7005, 0]],
  });
  assertEquals(h.said(), [
    "[Client table updated.]",
    "{31 users: 30 Online, 1 Offline; changed: u5 Offline}",
  ]);
});

Deno.test("ClientState asks for a snapshot when it missed a table version", () => {
  const h = new Harness();
  h.online();
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 5,
    from: 3,
    rows: [["userB", HOST, 6001, 0]],
  });
  assertEquals(h.said(), []);
  const sync = h.lastRequest();
  assertEquals(sync, { t: "sync", id: sync.id, tok: TOK });
  h.recv(SRV, { t: "ack", id: sync.id });
  h.snapshot([ROWS[0], ["userB", HOST, 6001, 0], ROWS[2]], 5);
  assertEquals(h.said(), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Offline'], 'userC': ['127.0.0.1', 6002, 'Online']}",
  ]);
});

Deno.test("ClientState ignores an older table than the one it has", () => {
  const h = new Harness();
  h.online();
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 1,
    i: 0,
    n: 1,
    rows: [["userA", HOST, 6000, 0]],
  });
  assertEquals(h.said(), []);
  assertEquals(h.c.table, ROWS);
});

Deno.test("ClientState registers again when the server marked it Offline", () => {
  const h = new Harness();
  h.online();
  h.fromServer({
    t: "tbl",
    id: 0,
    ver: 2,
    from: 1,
    rows: [["userA", HOST, 6000, 0]],
  });
  // The table that shows it Offline is not printed: a fresh one follows.
  assertEquals(h.said(), [
    "[The server marked you Offline; registering again.]",
  ]);
  const reg = h.lastRequest();
  assertEquals(reg, { t: "reg", id: reg.id, name: "userA", tok: TOK });
  h.fromServer({ t: "welcome", id: reg.id, tok: TOK, off: 0 });
  h.snapshot(ROWS, 3);
  assertEquals(h.said(), ["[Client table updated.]", TABLE3]);
  assertEquals(h.c.phase, "online");
});

Deno.test("ClientState: a group message refused as Offline registers again and is sent again", () => {
  const h = new Harness();
  h.online();
  h.type("send_all still here");
  const all = h.lastRequest();
  h.recv(SRV, { t: "err", id: all.id, code: "offline" });
  assertEquals(h.said(), [
    "[The server marked you Offline; registering again.]",
  ]);
  const reg = h.lastRequest();
  assertEquals(reg.t, "reg");
  h.fromServer({ t: "welcome", id: reg.id, tok: "cd".repeat(16), off: 0 });
  h.snapshot(ROWS, 4);
  const again = h.lastRequest();
  assert(
    again.t === "all" && again.text === "still here" &&
      again.k === (all as { k: string }).k,
  );
  assertEquals(again.tok, "cd".repeat(16), "with the new token");
  h.recv(SRV, { t: "ack", id: again.id });
  assertEquals(h.said(), [
    "[Client table updated.]",
    TABLE3,
    "[Group Message received by Server.]",
  ]);
});

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

Deno.test("ClientState: bad commands give one line each and the program goes on", () => {
  const h = new Harness();
  h.online();
  for (
    const line of [
      "",
      "   ",
      "send",
      "send userB",
      "send userB    ",
      "send_all",
      "send_all   ",
      "dereg",
      "reg a b",
      "exit now",
      "shout hi",
    ]
  ) h.type(line);
  assertEquals(h.said(), [
    "[Usage: send NAME MESSAGE]",
    "[Usage: send NAME MESSAGE]",
    "[Usage: send NAME MESSAGE]",
    "[Usage: send_all MESSAGE]",
    "[Usage: send_all MESSAGE]",
    "[Usage: dereg NAME]",
    "[Usage: reg NAME]",
    "[Usage: exit]",
    "[Unknown command: shout. Type help for the list.]",
  ]);
  assertEquals(h.take(), []);
  assertEquals(h.c.exitCode, undefined);
  h.type("help");
  assert(h.said().length >= 6);
});

Deno.test("ClientState: exit quits with status 0, without deregistering", () => {
  const h = new Harness();
  h.online();
  h.type("exit");
  assertEquals(h.c.exitCode, 0);
  assertEquals(h.c.phase, "exited");
  assertEquals(h.take(), [], "no dereg");
  assertEquals(h.c.getTimer(), undefined);
  h.recv(B, {
    t: "msg",
    id: 1,
    from: "userB",
    g: 0,
    k: "b:1",
    pi: 0,
    pn: 1,
    text: "hi",
  });
  assertEquals(h.said(), []);
});

// ---------------------------------------------------------------------------
// With the real server, on the fake network
// ---------------------------------------------------------------------------

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${
    p(d.getHours())
  }:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

Deno.test("ClientState on the fake network: a silent peer; after 500 ms the server tries, then saves it and marks it Offline", () => {
  const { net, type, addr } = chat(["userA", "userB", "userC"]);
  net.run(1000 - ((net.now + 700) % 1000)); // now ends in .300 s
  net.remove(addr("userB")); // killed without dereg
  const a0 = net.lines(addr("userA")).length;
  const c0 = net.lines(addr("userC")).length;
  const s0 = net.lines(SERVER).length;
  const t = net.now;
  type("userA", "send userB anyone?");
  net.run(499);
  assertEquals(net.lines(addr("userA")).slice(a0), ["[Message sent!]"]);
  net.run(500); // the server's own 500 ms try
  assertEquals(net.lines(addr("userA")).slice(a0), ["[Message sent!]"]);
  net.run(1);
  const offB =
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Offline'], 'userC': ['127.0.0.1', 6002, 'Online']}";
  assert(stamp(t + 1000) !== stamp(t + 500));
  assertEquals(net.lines(addr("userA")).slice(a0), [
    "[Message sent!]",
    `[Offline Message sent at ${
      stamp(t + 1000)
    } received by the server and saved.]`,
    "[Client table updated.]",
    offB,
  ]);
  assertEquals(net.lines(addr("userC")).slice(c0), [
    "[Client table updated.]",
    offB,
  ]);
  assertEquals(net.lines(SERVER).slice(s0), ["[Client table updated.]"]);
  // Now Offline in the table: the next one is saved at once.
  const t2 = net.now;
  type("userA", "send userB still?");
  net.run(10);
  assertEquals(net.lines(addr("userA")).slice(-1), [
    `[Offline Message sent at ${stamp(t2)} received by the server and saved.]`,
  ]);
});

Deno.test("ClientState on the fake network: a peer reachable only through the server still gets sent and received lines", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  // userA cannot reach userB directly (a firewall), the server can.
  net.filter = (d) => d.from.port === 6000 && d.to.port === 6001;
  const a0 = net.lines(addr("userA")).length;
  type("userA", "send userB one");
  net.run(2000);
  type("userA", "send userB two");
  net.run(2000);
  assertEquals(net.lines(addr("userA")).slice(a0), [
    "[Message sent!]",
    "[Message received by userB.]",
    "[Message sent!]",
    "[Message received by userB.]",
  ]);
  assertEquals(net.lines(addr("userB")).slice(-2), [
    "userA: one",
    "userA: two",
  ]);
});

// ---------------------------------------------------------------------------
// Typed events (their words are asserted in lines_test.ts)
// ---------------------------------------------------------------------------

Deno.test("ClientState reports typed events, and its exit as a reason", () => {
  const h = new Harness();
  h.start();
  const reg = h.lastRequest();
  h.fromServer({ t: "welcome", id: reg.id, tok: TOK, off: 0 });
  h.snapshot(ROWS, 1);
  assertEquals(h.c.log, [
    { type: "welcome", name: "userA" },
    { type: "table_updated", version: 1 },
    { type: "table", rows: ROWS, changed: ROWS },
  ]);
  h.c.log.length = 0;
  h.type("send userB hi");
  const [msg] = only(to(h.take(), B), "msg");
  h.recv(B, { t: "ack", id: msg.id });
  h.type("send userB " + "x".repeat(16_385));
  h.type("frobnicate");
  assertEquals(h.c.log, [
    { type: "sent", to: "userB" },
    { type: "received", by: "userB" },
    { type: "too_long", bytes: 16_385 },
    { type: "unknown_command", word: "frobnicate" },
  ]);
  assertEquals(h.c.exit, undefined);
  h.type("exit");
  assertEquals(h.c.exit, { type: "exit", reason: "done" });
});

Deno.test("ClientState: the server gone is an exit for server_not_responding", () => {
  const h = new Harness();
  h.online();
  h.c.log.length = 0;
  h.type("dereg userA");
  h.advance(3_000);
  assertEquals(h.c.log.map((e) => e.type), [
    "retrying",
    "retrying",
    "retrying",
    "retrying",
    "retrying",
    "server_not_responding",
    "exiting",
  ]);
  assertEquals(h.c.exit, { type: "exit", reason: "server_not_responding" });
});
