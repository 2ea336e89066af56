/**
 * Unit tests of the server's state machine, driven directly with datagrams
 * and an explicit clock: no clients, no network, no sockets. Each test plays
 * the clients by hand and reads exactly what the server sends and prints.
 */
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message, Row } from "../protocol/messages.ts";
import { type ServerLimits, ServerState } from "../server/state.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { ClientState } from "./_client.ts";
import { chat, clientAddr, prng, seededBytes, SERVER } from "./_sim.ts";

const T0 = 1_700_000_000_000;
const HOST = "127.0.0.1";
const at = (port: number): Address => ({ hostname: HOST, port });
const A = at(6000), B = at(6001), C = at(6002), D = at(6003);
const EVIL = at(6666);

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${
    p(d.getHours())
  }:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

interface Sent {
  to: Address;
  m: Message;
  size: number;
  at: number;
}

const RELIABLE = new Set(["tbl", "sum", "msg", "note", "ping"]);

/** A server, a clock and hand-played clients. */
class Harness {
  now = T0;
  server: ServerState;
  sent: Sent[] = [];
  lines: string[] = [];
  /** Addresses that ACK every reliable datagram at once, as a live client does. */
  live = new Set<number>();
  toks = new Map<number, string>();
  #id = 1000;
  #cursor = new Map<number, number>();

  constructor(limits?: Partial<ServerLimits>) {
    this.server = new ServerState({ random: seededBytes(1), limits });
    this.#collect();
  }

  id(): number {
    return this.#id++;
  }

  /** Delivers a datagram to the server. */
  recv(from: Address, m: Message | Uint8Array): void {
    const bytes = m instanceof Uint8Array ? m : encodeMessage(m);
    this.server.receiveDatagram(bytes, from, this.now);
    this.#collect();
  }

  /** Advances the clock, running the server's timer when due. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const t = this.server.getTimer();
      if (t === undefined || t > until) break;
      this.now = Math.max(this.now, t);
      this.server.handleTimer(this.now);
      this.#collect();
    }
    this.now = until;
  }

  /** What the server sent to `addr` since the last call. */
  take(addr: Address): Message[] {
    const from = this.#cursor.get(addr.port) ?? 0;
    this.#cursor.set(addr.port, this.sent.length);
    return this.sent.slice(from).filter((s) => s.to.port === addr.port).map((
      s,
    ) => s.m);
  }

  /** ACKs a reliable datagram as the client at `addr`. */
  ack(addr: Address, id: number): void {
    this.recv(addr, { t: "ack", id });
  }

  /** Registers a name from an address (cookie round trip) and keeps it live. */
  register(name: string, addr: Address, live = true, settle = true): string {
    if (live) this.live.add(addr.port);
    const id = this.id();
    this.recv(addr, { t: "reg", id, name });
    const retry = this.sent.findLast((s) =>
      s.to.port === addr.port && s.m.t === "retry"
    );
    assert(retry !== undefined && retry.m.t === "retry", "a retry");
    const id2 = this.id();
    this.recv(addr, { t: "reg", id: id2, name, ck: retry.m.ck });
    const welcome = this.sent.findLast((s) =>
      s.to.port === addr.port && s.m.t === "welcome" && s.m.id === id2
    );
    assert(welcome !== undefined && welcome.m.t === "welcome", "a welcome");
    this.toks.set(addr.port, welcome.m.tok);
    // Past the 15 ms in which table changes are gathered.
    if (settle) this.advance(20);
    return welcome.m.tok;
  }

  tok(addr: Address): string {
    return this.toks.get(addr.port)!;
  }

  #collect(): void {
    const acks: [Address, number][] = [];
    for (const d of this.server.datagramsToSend()) {
      const r = decodeMessage(d.bytes);
      assert(r.ok, "the server sends only valid datagrams");
      assert(d.bytes.length <= 1200, `a datagram of ${d.bytes.length} bytes`);
      this.sent.push({
        to: d.to,
        m: r.message,
        size: d.bytes.length,
        at: this.now,
      });
      if (this.live.has(d.to.port) && RELIABLE.has(r.message.t)) {
        acks.push([d.to, r.message.id]);
      }
    }
    for (const e of this.server.events()) {
      this.lines.push(describeServerEvent(e).text);
    }
    for (const [to, id] of acks) this.ack(to, id);
  }
}

function rowsOf(msgs: Message[]): Row[][] {
  return msgs.flatMap((m) => m.t === "tbl" ? [m.rows] : []);
}

function of<T extends Message["t"]>(
  msgs: Message[],
  t: T,
): Extract<Message, { t: T }>[] {
  return msgs.filter((m): m is Extract<Message, { t: T }> => m.t === t);
}

const UPDATED = "[Client table updated.]";

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

Deno.test("ServerState answers a reg without a cookie with a small retry and registers nobody", () => {
  const h = new Harness();
  const req = encodeMessage({ t: "reg", id: 1, name: "userA" });
  h.recv(A, req);
  const out = h.take(A);
  assertEquals(out.length, 1);
  assertEquals(out[0].t, "retry");
  assertEquals(out[0].id, 1);
  assert(h.sent[0].size <= 3 * req.length);
  assertEquals(h.server.table, []);
  assertEquals(h.lines, []);
  assertEquals(h.server.getTimer(), undefined);
});

Deno.test("ServerState registers after the cookie round trip: welcome, token, snapshot, one table line", () => {
  const h = new Harness();
  h.live.add(A.port);
  h.recv(A, { t: "reg", id: 1, name: "userA" });
  const [retry] = of(h.take(A), "retry");
  h.recv(A, { t: "reg", id: 2, name: "userA", ck: retry.ck });
  const out = h.take(A);
  const [welcome] = of(out, "welcome");
  assertEquals(welcome.id, 2);
  assertMatch(welcome.tok, /^[0-9a-f]{32}$/);
  assertEquals(welcome.off, 0);
  assertEquals(welcome.o0, undefined);
  assertEquals(out[0].t, "welcome", "the welcome goes before the table");
  const [tbl] = of(out, "tbl");
  assertEquals(tbl.from, undefined, "a snapshot");
  assertEquals([tbl.i, tbl.n], [0, 1]);
  assertEquals(tbl.rows, [["userA", HOST, 6000, 1]]);
  assertEquals(h.lines, [UPDATED]);
  assertEquals(h.server.table, [["userA", HOST, 6000, 1]]);
  assertEquals(h.server.getTimer(), undefined, "nothing left once ACKed");
});

Deno.test("ServerState refuses a cookie made for another address", () => {
  const h = new Harness();
  h.recv(B, { t: "reg", id: 1, name: "userA" });
  const [retry] = of(h.take(B), "retry");
  h.recv(A, { t: "reg", id: 2, name: "userA", ck: retry.ck });
  assertEquals(of(h.take(A), "retry").length, 1, "asked to prove again");
  h.recv(A, { t: "reg", id: 3, name: "userA", ck: "x".repeat(22) });
  assertEquals(of(h.take(A), "retry").length, 1);
  assertEquals(h.server.stats().dropped.bad_cookie, 2);
  assertEquals(h.server.table, []);
});

Deno.test("ServerState keeps the table in registration order and sends every Online client each change", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.register("userC", C);
  h.advance(100);
  assertEquals(h.lines, [UPDATED, UPDATED, UPDATED]);
  assertEquals(h.server.table, [
    ["userA", HOST, 6000, 1],
    ["userB", HOST, 6001, 1],
    ["userC", HOST, 6002, 1],
  ]);
  const a = of(h.take(A), "tbl");
  // A snapshot, then deltas naming the version they apply to.
  assertEquals(a.map((t) => t.rows), [
    [["userA", HOST, 6000, 1]],
    [["userB", HOST, 6001, 1]],
    [["userC", HOST, 6002, 1]],
  ]);
  assertEquals(a[0].from, undefined);
  assertEquals(a[1].from, a[0].ver);
  assertEquals(a[2].from, a[1].ver);
  assertEquals(rowsOf(h.take(C)), [[
    ["userA", HOST, 6000, 1],
    ["userB", HOST, 6001, 1],
    ["userC", HOST, 6002, 1],
  ]]);
});

Deno.test("ServerState gathers a storm of table changes into a few updates", () => {
  const h = new Harness();
  h.register("user0", A);
  h.take(A);
  const t = h.now;
  for (let i = 1; i <= 20; i++) {
    h.register(`user${i}`, at(7000 + i), true, false);
  }
  h.advance(100);
  assertEquals(h.lines.length, 21, "one line per change");
  const tbl = of(h.take(A), "tbl");
  // The first change goes at once; the rest are gathered for 15 ms.
  assertEquals(tbl.length, 2);
  assertEquals(tbl[0].rows.length, 1);
  assertEquals(tbl[1].rows.length, 19);
  assertEquals(h.sent.find((s) => s.m === tbl[1])!.at - t, 15);
});

Deno.test("ServerState retransmits an unACKed table, then resends a snapshot up to three times", () => {
  const h = new Harness();
  h.register("userA", A, false);
  let tbl = of(h.take(A), "tbl");
  assertEquals(tbl.length, 1);
  h.advance(4_999);
  tbl = of(h.take(A), "tbl");
  assert(tbl.length >= 4, "retransmitted inside its 5 s");
  assert(tbl.length <= 9, "backing off up to 1 s apart: " + tbl.length);
  h.advance(60_000);
  const later = of(h.take(A), "tbl");
  const ids = new Set(later.map((t) => t.id));
  assertEquals(ids.size, 3, "three more snapshots");
  for (const t of later) assertEquals(t.from, undefined);
  assertEquals(h.server.getTimer(), undefined, "then it stops");
  // The client is still Online: only table transfers failed.
  assertEquals(h.server.table[0][3], 1);
});

// ---------------------------------------------------------------------------
// dereg
// ---------------------------------------------------------------------------

Deno.test("ServerState dereg: ACK, Offline, the table to the others but not to the user", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(A);
  h.take(B);
  const lines0 = h.lines.length;
  h.recv(A, { t: "dereg", id: 77, name: "userA", tok: h.tok(A) });
  assertEquals(h.take(A), [{ t: "ack", id: 77 }]);
  assertEquals(h.lines.slice(lines0), [UPDATED]);
  assertEquals(h.server.table.map((r) => r[3]), [0, 1]);
  assertEquals(rowsOf(h.take(B)), [[["userA", HOST, 6000, 0]]]);
  // Offline: it gets no group messages either.
  h.recv(B, {
    t: "all",
    id: 78,
    tok: h.tok(B),
    k: "b:1",
    pi: 0,
    pn: 1,
    text: "x",
  });
  assertEquals(of(h.take(A), "msg"), []);
});

Deno.test("ServerState refuses a dereg for another name, with a wrong token or from another address", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  const lines0 = h.lines.length;
  h.recv(B, { t: "dereg", id: 1, name: "userA", tok: h.tok(B) });
  assertEquals(h.take(B).at(-1), {
    t: "err",
    id: 1,
    code: "not_registered",
    name: "userA",
  });
  h.recv(B, { t: "dereg", id: 2, name: "userB", tok: "0".repeat(32) });
  assertEquals(h.take(B).at(-1), {
    t: "err",
    id: 2,
    code: "not_registered",
    boot: h.server.bootId,
  });
  // userA's real token, but not from userA's address.
  h.recv(EVIL, { t: "dereg", id: 3, name: "userA", tok: h.tok(A) });
  assertEquals(h.take(EVIL), [{
    t: "err",
    id: 3,
    code: "not_registered",
    boot: h.server.bootId,
  }]);
  assertEquals(h.server.table.map((r) => r[3]), [1, 1]);
  assertEquals(h.lines.length, lines0);
  assertEquals(h.server.stats().dropped.unauthenticated, 2);
});

Deno.test("ServerState answers a repeated request again but acts on it once", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(A);
  h.take(B);
  const m: Message = {
    t: "all",
    id: 50,
    tok: h.tok(A),
    k: "a:1",
    pi: 0,
    pn: 1,
    text: "once",
  };
  h.recv(A, m);
  h.recv(A, m);
  h.recv(A, m);
  const acks = of(h.take(A), "ack");
  assertEquals(acks, [{ t: "ack", id: 50 }, { t: "ack", id: 50 }, {
    t: "ack",
    id: 50,
  }]);
  assertEquals(
    h.lines.filter((l) => l.startsWith("[Client userA sent group")).length,
    1,
  );
  assertEquals(of(h.take(B), "msg").length, 1);
  assertEquals(h.server.stats().dropped.duplicate, 2);
  // A dereg repeated after it was done is ACKed again, not refused.
  h.recv(B, { t: "dereg", id: 9, name: "userB", tok: h.tok(B) });
  h.recv(B, { t: "dereg", id: 9, name: "userB", tok: h.tok(B) });
  assertEquals(h.take(B), [{ t: "ack", id: 9 }, { t: "ack", id: 9 }]);
});

// ---------------------------------------------------------------------------
// Group messages
// ---------------------------------------------------------------------------

Deno.test("ServerState relays a group message to every Online user", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.register("userC", C);
  for (const a of [A, B, C]) h.take(a);
  const lines0 = h.lines.length;
  h.recv(A, {
    t: "all",
    id: 5,
    tok: h.tok(A),
    k: "userA:s:1",
    pi: 0,
    pn: 1,
    text: "hi",
  });
  assertEquals(h.lines.slice(lines0), [
    "[Client userA sent group message: hi ]",
  ]);
  for (const r of [B, C]) {
    const [msg] = of(h.take(r), "msg");
    assertEquals(
      { ...msg, id: 0 },
      {
        t: "msg",
        id: 0,
        from: "userA",
        g: 1,
        k: "userA:s:1",
        pi: 0,
        pn: 1,
        text: "hi",
      },
    );
  }
  const a = h.take(A);
  assertEquals(a[0], { t: "ack", id: 5 });
  // Once every recipient ACKed: a `done` notice, nothing else.
  assertEquals(
    of(a, "note").map((n) => [n.k, n.ref]),
    [["done", "userA:s:1"]],
  );
  assertEquals(of(a, "msg"), [], "not to the sender");
});

Deno.test("ServerState saves a group message for an Offline user and tells the sender (noack)", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userD", D);
  h.recv(D, { t: "dereg", id: 1, name: "userD", tok: h.tok(D) });
  h.take(A);
  h.take(D);
  h.advance(1234);
  h.recv(A, {
    t: "all",
    id: 2,
    tok: h.tok(A),
    k: "k1",
    pi: 0,
    pn: 1,
    text: "hi",
  });
  const notes = of(h.take(A), "note");
  assertEquals(notes.map((n) => ({ ...n, id: 0 })), [
    {
      t: "note",
      id: 0,
      k: "noack",
      name: "userD",
      ref: "k1",
      at: stamp(h.now),
    },
    { t: "note", id: 0, k: "done", name: "userA", ref: "k1" },
  ]);
  assertEquals(h.take(D), [], "nothing to the Offline user");
  assertEquals(h.server.stats().offlineMessages, 1);
});

Deno.test("ServerState marks a group recipient that does not ACK within 500 ms Offline", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.register("userC", C, false);
  h.advance(10_000); // userC's table transfers give up
  for (const a of [A, B, C]) h.take(a);
  const lines0 = h.lines.length;
  const t = h.now;
  h.recv(A, {
    t: "all",
    id: 3,
    tok: h.tok(A),
    k: "k",
    pi: 0,
    pn: 1,
    text: "hey",
  });
  h.advance(499);
  assertEquals(h.lines.slice(lines0), [
    "[Client userA sent group message: hey ]",
  ]);
  assertEquals(of(h.take(A), "note"), [], "nothing yet");
  const tries = of(h.take(C), "msg");
  assert(tries.length >= 5, "retransmitted inside the window: " + tries.length);
  assertEquals(new Set(tries.map((m) => m.id)).size, 1);
  h.advance(1);
  assertEquals(h.lines.slice(lines0), [
    "[Client userA sent group message: hey ]",
    UPDATED,
  ]);
  assertEquals(h.server.table[2], ["userC", HOST, 6002, 0]);
  const notes = of(h.take(A), "note");
  assertEquals(notes.map((n) => [n.k, n.name, n.at]), [
    ["noack", "userC", stamp(t + 500)],
    ["done", "userA", undefined],
  ]);
  assertEquals(rowsOf(h.take(B)), [[["userC", HOST, 6002, 0]]]);
  assertEquals(h.server.stats().offlineMessages, 1);
});

Deno.test("ServerState delivers to each recipient one message at a time, in order", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B, false);
  h.advance(10_000);
  h.take(B);
  for (let i = 0; i < 3; i++) {
    h.recv(A, {
      t: "all",
      id: 10 + i,
      tok: h.tok(A),
      k: `k${i}`,
      pi: 0,
      pn: 1,
      text: `m${i}`,
    });
  }
  let msgs = of(h.take(B), "msg");
  assertEquals(msgs.map((m) => m.text), ["m0"]);
  h.ack(B, msgs[0].id);
  msgs = of(h.take(B), "msg");
  assertEquals(msgs.map((m) => m.text), ["m1"]);
  h.ack(B, msgs[0].id);
  assertEquals(of(h.take(B), "msg").map((m) => m.text), ["m2"]);
});

Deno.test("ServerState reassembles a split group message and splits it again under 1,200 bytes", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(B);
  const parts = ["é".repeat(450), "👋".repeat(225), "end"];
  const lines0 = h.lines.length;
  parts.forEach((text, pi) => {
    h.recv(A, {
      t: "all",
      id: 20 + pi,
      tok: h.tok(A),
      k: "big",
      pi,
      pn: 3,
      text,
    });
    if (pi < 2) {
      assertEquals(h.lines.length, lines0, "nothing before the last part");
    }
  });
  assertEquals(of(h.take(A), "ack").map((a) => a.id), [20, 21, 22]);
  assertEquals(h.lines.slice(lines0), [
    `[Client userA sent group message: ${parts.join("")} ]`,
  ]);
  const msgs = of(h.take(B), "msg");
  assertEquals(msgs.length, 3);
  assertEquals(msgs.map((m) => m.text).join(""), parts.join(""));
  assert(msgs.every((m) => m.pn === 3 && m.k === "big"));
});

// ---------------------------------------------------------------------------
// Private messages through the server
// ---------------------------------------------------------------------------

Deno.test("ServerState save for an Offline recipient stores it and ACKs with the time", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.recv(B, { t: "dereg", id: 1, name: "userB", tok: h.tok(B) });
  h.take(A);
  h.take(B);
  h.advance(777);
  h.recv(A, {
    t: "save",
    id: 2,
    tok: h.tok(A),
    to: "userB",
    k: "k",
    pi: 0,
    pn: 1,
    text: "hello",
  });
  assertEquals(h.take(A), [{ t: "ack", id: 2, r: "saved", at: stamp(h.now) }]);
  assertEquals(h.take(B), []);
  assertEquals(h.server.stats().offlineMessages, 1);
});

Deno.test("ServerState save for an Online recipient: pending, delivered, then a rcv notice", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(A);
  h.take(B);
  h.recv(A, {
    t: "save",
    id: 3,
    tok: h.tok(A),
    to: "userB",
    k: "kk",
    pi: 0,
    pn: 1,
    text: "via server",
  });
  const a = h.take(A);
  assertEquals(a[0], { t: "ack", id: 3, r: "pending" });
  assertEquals(of(a, "note").map((n) => [n.k, n.name, n.ref]), [[
    "rcv",
    "userB",
    "kk",
  ]]);
  const [msg] = of(h.take(B), "msg");
  assertEquals([msg.from, msg.g, msg.text, msg.at], [
    "userA",
    0,
    "via server",
    undefined,
  ]);
  assertEquals(h.server.stats().offlineMessages, 0);
  assertEquals(h.server.table[1][3], 1);
});

Deno.test("ServerState save for an Online recipient that does not answer: saved notice and Offline", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B, false);
  h.advance(10_000);
  h.take(A);
  h.take(B);
  const lines0 = h.lines.length;
  const t = h.now;
  h.recv(A, {
    t: "save",
    id: 4,
    tok: h.tok(A),
    to: "userB",
    k: "k4",
    pi: 0,
    pn: 1,
    text: "gone?",
  });
  assertEquals(h.take(A), [{ t: "ack", id: 4, r: "pending" }]);
  h.advance(499);
  assertEquals(h.take(A), []);
  h.advance(1);
  const a = h.take(A);
  const [note] = of(a, "note");
  assertEquals([note.k, note.name, note.ref, note.at], [
    "saved",
    "userB",
    "k4",
    stamp(t + 500),
  ]);
  // The notice goes before the table change it caused.
  assertEquals(a.map((m) => m.t), ["note", "tbl"]);
  assertEquals(h.lines.slice(lines0), [UPDATED]);
  assertEquals(h.server.table[1][3], 0);
  assertEquals(h.server.stats().offlineMessages, 1);
});

Deno.test("ServerState save to an unknown user is refused with unknown_user", () => {
  const h = new Harness();
  h.register("userA", A);
  h.take(A);
  h.recv(A, {
    t: "save",
    id: 5,
    tok: h.tok(A),
    to: "nobody",
    k: "k",
    pi: 0,
    pn: 1,
    text: "x",
  });
  assertEquals(h.take(A), [{
    t: "err",
    id: 5,
    code: "unknown_user",
    name: "nobody",
  }]);
  assertEquals(h.server.stats().offlineMessages, 0);
});

// ---------------------------------------------------------------------------
// Offline messages
// ---------------------------------------------------------------------------

/** userA Offline with two saved messages from userB (private) and userC (group). */
function withSaved(): { h: Harness; times: number[] } {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.register("userC", C);
  h.recv(A, { t: "dereg", id: h.id(), name: "userA", tok: h.tok(A) });
  h.advance(1000);
  const t1 = h.now;
  h.recv(B, {
    t: "save",
    id: h.id(),
    tok: h.tok(B),
    to: "userA",
    k: "b:1",
    pi: 0,
    pn: 1,
    text: "hello",
  });
  h.advance(1000);
  const t2 = h.now;
  h.recv(C, {
    t: "all",
    id: h.id(),
    tok: h.tok(C),
    k: "c:1",
    pi: 0,
    pn: 1,
    text: "to all",
  });
  h.advance(1000);
  for (const a of [A, B, C]) h.take(a);
  return { h, times: [t1, t2] };
}

Deno.test("ServerState reg after Offline: the saved messages in order, deleted once ACKed, a dlv notice each", () => {
  const { h, times: [t1, t2] } = withSaved();
  assertEquals(h.server.stats().offlineMessages, 2);
  const lines0 = h.lines.length;
  h.live.delete(A.port);
  h.recv(A, { t: "reg", id: 900, name: "userA", tok: h.tok(A) });
  assertEquals(h.lines.slice(lines0), [UPDATED]);
  const a = h.take(A);
  assertEquals(a.map((m) => m.t), ["welcome", "tbl", "msg", "msg"]);
  const welcome = a[0] as Extract<Message, { t: "welcome" }>;
  assertEquals([welcome.off, welcome.o0], [2, 1]);
  const msgs = of(a, "msg");
  assertEquals(msgs.map((m) => ({ ...m, id: 0 })), [
    {
      t: "msg",
      id: 0,
      from: "userB",
      g: 0,
      k: "b:1",
      pi: 0,
      pn: 1,
      text: "hello",
      at: stamp(t1),
      o: 1,
    },
    {
      t: "msg",
      id: 0,
      from: "userC",
      g: 1,
      k: "c:1",
      pi: 0,
      pn: 1,
      text: "to all",
      at: stamp(t2),
      o: 2,
    },
  ]);
  // Nothing is deleted until ACKed.
  assertEquals(h.server.stats().offlineMessages, 2);
  h.ack(A, msgs[1].id);
  assertEquals(h.server.stats().offlineMessages, 1);
  assertEquals(
    of(h.take(C), "note").map((n) => [n.k, n.name, n.ref, n.at]),
    [["dlv", "userA", "c:1", stamp(t2)]],
  );
  h.ack(A, msgs[0].id);
  assertEquals(h.server.stats().offlineMessages, 0);
  assertEquals(
    of(h.take(B), "note").map((n) => [n.k, n.name, n.ref, n.at]),
    [["dlv", "userA", "b:1", stamp(t1)]],
  );
});

Deno.test("ServerState keeps saved messages that were not ACKed for the next reg", () => {
  const { h } = withSaved();
  h.live.delete(A.port);
  h.recv(A, { t: "reg", id: 900, name: "userA", tok: h.tok(A) });
  const first = of(h.take(A), "msg");
  assertEquals(first.length, 2);
  h.advance(600); // no ACK: userA is marked Offline again, nothing is lost
  assertEquals(h.server.table[0][3], 0);
  assertEquals(h.server.stats().offlineMessages, 2);
  assertEquals(of(h.take(B), "note"), [], "no dlv notice");
  h.take(A);
  h.live.add(A.port);
  h.recv(A, { t: "reg", id: 901, name: "userA", tok: h.tok(A) });
  const a = h.take(A);
  const welcome = of(a, "welcome")[0];
  // The list numbering goes on, so the two lists never mix.
  assertEquals([welcome.off, welcome.o0], [2, 3]);
  assertEquals(of(a, "msg").map((m) => [m.o, m.text]), [[3, "hello"], [
    4,
    "to all",
  ]]);
  assertEquals(h.server.stats().offlineMessages, 0);
});

Deno.test("ServerState keeps notices for an Offline sender and sends them when it is back", () => {
  const { h } = withSaved();
  // userB goes Offline before its message is delivered.
  h.recv(B, { t: "dereg", id: h.id(), name: "userB", tok: h.tok(B) });
  h.recv(A, { t: "reg", id: 900, name: "userA", tok: h.tok(A) });
  h.take(B);
  assertEquals(h.server.stats().offlineMessages, 0);
  h.recv(B, { t: "reg", id: 901, name: "userB", tok: h.tok(B) });
  const notes = of(h.take(B), "note");
  assertEquals(notes.map((n) => [n.k, n.name, n.ref]), [[
    "dlv",
    "userA",
    "b:1",
  ]]);
});

// ---------------------------------------------------------------------------
// sync, offline requests
// ---------------------------------------------------------------------------

Deno.test("ServerState answers sync with an ACK and a full snapshot", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(A);
  h.recv(A, { t: "sync", id: 8, tok: h.tok(A) });
  const a = h.take(A);
  assertEquals(a[0], { t: "ack", id: 8 });
  const [tbl] = of(a, "tbl");
  assertEquals(tbl.from, undefined);
  assertEquals(tbl.rows, [["userA", HOST, 6000, 1], ["userB", HOST, 6001, 1]]);
});

Deno.test("ServerState refuses a group message or sync from a user it has marked Offline", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.recv(A, { t: "dereg", id: 1, name: "userA", tok: h.tok(A) });
  h.take(A);
  h.recv(A, {
    t: "all",
    id: 2,
    tok: h.tok(A),
    k: "k",
    pi: 0,
    pn: 1,
    text: "x",
  });
  h.recv(A, { t: "sync", id: 3, tok: h.tok(A) });
  assertEquals(h.take(A), [
    { t: "err", id: 2, code: "offline" },
    { t: "err", id: 3, code: "offline" },
  ]);
  assertEquals(of(h.take(B), "msg"), []);
});

// ---------------------------------------------------------------------------
// Duplicate logins
// ---------------------------------------------------------------------------

Deno.test("ServerState: a reg from the name's own address is a re-login", () => {
  const h = new Harness();
  const tok = h.register("userA", A);
  h.register("userB", B);
  h.take(B);
  const lines0 = h.lines.length;
  const newTok = h.register("userA", A); // a restarted client: no token
  // Seed test case 6: no table line for it (only the key changes).
  assertEquals(h.lines.slice(lines0), ["[Duplicate login detected.]"]);
  assert(newTok !== tok, "a new session");
  assertEquals(h.server.table, [["userA", HOST, 6000, 1], [
    "userB",
    HOST,
    6001,
    1,
  ]]);
  // The new key still reaches every client, as a quiet update.
  const tbl = of(h.take(B), "tbl");
  assertEquals(tbl.length, 1, "the table is broadcast again");
  assertEquals(tbl[0].q, 1, "quiet: applied, not printed");
  // The old token is gone.
  h.recv(A, { t: "sync", id: 5, tok });
  assertEquals(h.take(A).at(-1), {
    t: "err",
    id: 5,
    code: "not_registered",
    boot: h.server.bootId,
  });
});

Deno.test("ServerState: reg with the token while Online refreshes without a cookie", () => {
  const h = new Harness();
  const tok = h.register("userA", A);
  h.take(A);
  const lines0 = h.lines.length;
  h.recv(A, { t: "reg", id: 50, name: "userA", tok });
  const a = h.take(A);
  assertEquals(a[0], {
    t: "welcome",
    id: 50,
    tok,
    off: 0,
    boot: h.server.bootId,
  });
  assertEquals(of(a, "tbl").length, 1);
  assertEquals(h.lines.slice(lines0), [UPDATED]);
});

Deno.test("ServerState: a duplicate login from another address is refused while the old session answers", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(A);
  h.take(B);
  const lines0 = h.lines.length;
  const NEW = at(6100);
  h.recv(NEW, { t: "reg", id: 1, name: "userB" });
  const [retry] = of(h.take(NEW), "retry");
  h.recv(NEW, { t: "reg", id: 2, name: "userB", ck: retry.ck });
  assertEquals(h.lines.slice(lines0), ["[Duplicate login detected.]"]);
  // The old session was asked (and, being live, ACKed at once).
  assertEquals(of(h.take(B), "ping").length, 1);
  assertEquals(h.take(NEW), [{
    t: "err",
    id: 2,
    code: "name_in_use",
    name: "userB",
  }]);
  assertEquals(h.server.table[1], ["userB", HOST, 6001, 1]);
  assertEquals(h.take(A), [], "nothing changed for the others");
  assertEquals(h.lines.length, lines0 + 1);
  // The old session's token still works.
  h.recv(B, { t: "sync", id: 3, tok: h.tok(B) });
  assertEquals(h.take(B)[0], { t: "ack", id: 3 });
});

Deno.test("ServerState: a duplicate login from another address takes over when the old session is silent", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.live.delete(B.port);
  h.take(A);
  h.take(B);
  const lines0 = h.lines.length;
  const NEW = at(6100);
  h.live.add(NEW.port);
  h.recv(NEW, { t: "reg", id: 1, name: "userB" });
  const [retry] = of(h.take(NEW), "retry");
  h.recv(NEW, { t: "reg", id: 2, name: "userB", ck: retry.ck });
  assertEquals(h.take(NEW), []);
  // The newcomer retransmits meanwhile: not answered, not acted on twice.
  h.recv(NEW, { t: "reg", id: 2, name: "userB", ck: retry.ck });
  assertEquals(h.take(NEW), []);
  h.advance(299);
  assertEquals(h.take(NEW), [], "the probe lasts 300 ms");
  assert(of(h.take(B), "ping").length >= 2, "the old address was pinged");
  h.advance(1);
  const n = h.take(NEW);
  assertEquals(n[0].t, "welcome");
  assertEquals(n[0].id, 2);
  assertEquals(h.lines.slice(lines0), ["[Duplicate login detected.]", UPDATED]);
  assertEquals(h.server.table[1], ["userB", HOST, 6100, 1]);
  assertEquals(rowsOf(h.take(A)), [[["userB", HOST, 6100, 1]]]);
  // The old session is out.
  h.recv(B, { t: "sync", id: 4, tok: h.tok(B) });
  assertEquals(h.take(B).at(-1), {
    t: "err",
    id: 4,
    code: "not_registered",
    boot: h.server.bootId,
  });
});

Deno.test("ServerState: a name that is Offline can be registered from another address", () => {
  const h = new Harness();
  h.register("userA", A);
  h.recv(A, { t: "dereg", id: 1, name: "userA", tok: h.tok(A) });
  const lines0 = h.lines.length;
  const NEW = at(6200);
  h.register("userA", NEW);
  assertEquals(h.lines.slice(lines0), [UPDATED], "no duplicate-login probe");
  assertEquals(h.server.table, [["userA", HOST, 6200, 1]]);
});

Deno.test("ServerState: a new name from an address in use takes it; the old name goes Offline", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(B);
  const lines0 = h.lines.length;
  h.register("userZ", A); // a client restarted on userA's port under another name
  assertEquals(h.lines.slice(lines0), [UPDATED, UPDATED]);
  assertEquals(h.server.table, [
    ["userA", HOST, 6000, 0],
    ["userB", HOST, 6001, 1],
    ["userZ", HOST, 6000, 1],
  ]);
  assertEquals(rowsOf(h.take(B)).flat(), [
    ["userA", HOST, 6000, 0],
    ["userZ", HOST, 6000, 1],
  ]);
});

Deno.test("ServerState: a group message with nobody else is ACKed and done", () => {
  const h = new Harness();
  h.register("userA", A);
  h.take(A);
  h.recv(A, {
    t: "all",
    id: 1,
    tok: h.tok(A),
    k: "k",
    pi: 0,
    pn: 1,
    text: "echo?",
  });
  const a = h.take(A);
  assertEquals(a[0], { t: "ack", id: 1 });
  assertEquals(of(a, "note").map((n) => [n.k, n.ref]), [["done", "k"]]);
  assertEquals(h.lines.at(-1), "[Client userA sent group message: echo? ]");
  assertEquals(h.server.getTimer(), undefined);
});

Deno.test("ServerState refuses registrations beyond its user limit", () => {
  const h = new Harness({ maxUsers: 1 });
  h.register("userA", A);
  h.recv(B, { t: "reg", id: 1, name: "userB" });
  const [retry] = of(h.take(B), "retry");
  h.recv(B, { t: "reg", id: 2, name: "userB", ck: retry.ck });
  assertEquals(h.take(B), [{ t: "err", id: 2, code: "full" }]);
  assertEquals(h.server.table.length, 1);
});

// ---------------------------------------------------------------------------
// Hostile traffic
// ---------------------------------------------------------------------------

Deno.test("ServerState never answers an unproven address with more than 3x the bytes it sent", () => {
  const h = new Harness();
  const tok = h.register("userA", A);
  h.recv(A, {
    t: "save",
    id: 1,
    tok,
    to: "userA",
    k: "k",
    pi: 0,
    pn: 1,
    text: "x",
  });
  h.recv(A, { t: "dereg", id: 2, name: "userA", tok });
  h.take(EVIL);
  const spoofed: Message[] = [
    { t: "reg", id: 0, name: "a" },
    { t: "reg", id: 1, name: "userA" },
    { t: "reg", id: 2, name: "userA", tok },
    { t: "reg", id: 3, name: "userA", ck: "x" },
    { t: "dereg", id: 4, name: "userA", tok },
    { t: "sync", id: 5, tok: "" },
    { t: "all", id: 6, tok, k: "k", pi: 0, pn: 1, text: "" },
    { t: "save", id: 7, tok, to: "userA", k: "k", pi: 0, pn: 1, text: "" },
  ];
  for (const m of spoofed) {
    const before = h.sent.length;
    const size = encodeMessage(m).length;
    h.recv(EVIL, m);
    const replies = h.sent.slice(before).filter((s) => s.to.port === EVIL.port);
    assert(replies.length <= 1, `${m.t}: one reply at most`);
    for (const r of replies) {
      assert(r.size <= 3 * size, `${m.t}: ${r.size} bytes for ${size}`);
      assert(r.m.t === "retry" || r.m.t === "err", r.m.t);
    }
  }
  assertEquals(h.server.table, [["userA", HOST, 6000, 0]]);
});

Deno.test("ServerState drops and counts garbage by reason, and keeps working", () => {
  const h = new Harness();
  h.register("userA", A);
  const e = new TextEncoder();
  const junk: Uint8Array[] = [
    new Uint8Array(1201),
    new Uint8Array([0xc0, 0x80]),
    e.encode("hello"),
    e.encode('{"v":9,"t":"ack","id":1}'),
    e.encode('{"v":1,"t":"boom","id":1}'),
    e.encode('{"v":1,"t":"reg","id":1,"name":"bad name"}'),
    encodeMessage({ t: "welcome", id: 1, tok: "x", off: 0 }),
    encodeMessage({ t: "ack", id: 123456 }),
  ];
  for (const j of junk) h.recv(EVIL, j);
  const d = h.server.stats().dropped;
  assertEquals(
    [
      d.oversize,
      d.utf8,
      d.json,
      d.version,
      d.type,
      d.field,
      d.unexpected,
      d.stray_ack,
    ],
    [1, 1, 1, 1, 1, 1, 1, 1],
  );
  assertEquals(h.take(EVIL), [], "garbage is never answered");
  h.register("userB", B);
  assertEquals(h.server.table.length, 2);
});

Deno.test("ServerState rate-limits a flooding source, but not its ACKs", () => {
  const h = new Harness();
  for (let i = 0; i < 250; i++) h.recv(EVIL, { t: "reg", id: i, name: "x" });
  assertEquals(of(h.take(EVIL), "retry").length, 200);
  assertEquals(h.server.stats().dropped.rate, 50);
  for (let i = 0; i < 300; i++) h.recv(EVIL, { t: "ack", id: i });
  assertEquals(h.server.stats().dropped.rate, 50);
  assertEquals(h.server.stats().dropped.stray_ack, 300);
  // Another source is not affected; the flooder gets 1,000/s back.
  h.register("userA", A);
  h.advance(10);
  h.recv(EVIL, { t: "reg", id: 999, name: "x" });
  assertEquals(of(h.take(EVIL), "retry").length, 1);
});

Deno.test("ServerState: ACKs count only from the address the datagram went to", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B, false);
  h.advance(10_000);
  h.take(B);
  h.recv(A, {
    t: "all",
    id: 1,
    tok: h.tok(A),
    k: "k",
    pi: 0,
    pn: 1,
    text: "x",
  });
  const [msg] = of(h.take(B), "msg");
  h.recv(EVIL, { t: "ack", id: msg.id }); // a forged ACK
  h.advance(500);
  assertEquals(h.server.table[1][3], 0, "the forged ACK did not count");
  assertEquals(h.server.stats().dropped.stray_ack, 1);
});

// ---------------------------------------------------------------------------
// Big tables, stats, timers
// ---------------------------------------------------------------------------

Deno.test("ServerState: a table of 200 users never makes a datagram over 1,200 bytes", () => {
  const h = new Harness();
  for (let i = 0; i < 200; i++) {
    h.register(
      `user-with-a-long-name-${String(i).padStart(5, "0")}`,
      at(10_000 + i),
    );
    h.advance(1);
  }
  h.advance(2000);
  h.recv(at(10_000), { t: "sync", id: 1, tok: h.tok(at(10_000)) });
  h.advance(100);
  const biggest = Math.max(...h.sent.map((s) => s.size));
  assert(biggest <= 1200, `${biggest} bytes`);
  const snap = of(h.take(at(10_000)), "tbl").filter((t) => t.from === undefined)
    .slice(-20);
  const n = snap.at(-1)!.n!;
  assert(n > 1, "the snapshot is split");
  const rows = snap.slice(-n).flatMap((t) => t.rows);
  assertEquals(rows.length, 200);
  assertEquals(
    rows.map((r) => r[2]),
    Array.from({ length: 200 }, (_, i) => 10_000 + i),
  );
  assertEquals(h.server.getTimer(), undefined);
});

Deno.test("ServerState counts datagrams and bytes both ways", () => {
  const h = new Harness();
  h.register("userA", A);
  const s = h.server.stats();
  const inBytes = encodeMessage({ t: "reg", id: 1000, name: "userA" }).length;
  assertEquals(s.datagramsOut, h.sent.length);
  assertEquals(s.bytesOut, h.sent.reduce((n, x) => n + x.size, 0));
  // reg, reg with cookie, ACK of the snapshot.
  assertEquals(s.datagramsIn, 3);
  assert(s.bytesIn > inBytes);
  assertEquals([s.users, s.online, s.pending, s.offlineMessages], [1, 1, 0, 0]);
  assertMatch(
    h.server.statsLine(),
    /^\[Stats: users=1 online=1 .* dropped: none\]$/,
  );
});

// ---------------------------------------------------------------------------
// With real clients, on the fake network
// ---------------------------------------------------------------------------

Deno.test("ServerState on the fake network: 10 KiB of mixed Unicode arrives intact P2P, by send_all and from offline storage", () => {
  const pool = ["a", "é", "中", "👋", "🏳️‍🌈", '"', "\\", " ", "ß", "\u2028"];
  const rnd = prng(11);
  let text = "";
  while (new TextEncoder().encode(text).length < 10 * 1024) {
    text += pool[Math.floor(rnd() * pool.length)];
  }
  const { net, type, addr } = chat(["userA", "userB", "userC"], {
    loss: 0.1,
    duplicate: 0.05,
    jitter: 5,
    seed: 3,
  });
  net.run(3000);
  type("userA", `send userB ${text}`);
  net.run(3000);
  type("userA", `send_all ${text}`);
  net.run(3000);
  type("userC", "dereg userC");
  net.run(3000);
  type("userA", `send userC ${text}`);
  net.run(3000);
  type("userC", "reg userC");
  net.run(5000);
  const count = (name: string, line: string) =>
    net.lines(addr(name)).filter((l) => l === line).length;
  assertEquals(count("userB", `userA: ${text}`), 1);
  assertEquals(count("userB", `Group Chat userA: ${text}`), 1);
  assertEquals(count("userC", `Group Chat userA: ${text}`), 1);
  assertEquals(
    net.lines(addr("userC")).filter((l) =>
      /^userA: \d\d:\d\d:\d\d /.test(l) && l.endsWith(` ${text}`)
    ).length,
    1,
  );
  assertEquals(count("userA", "[Message received by userB.]"), 1);
  assertEquals(count("userA", "[Group Message received by Server.]"), 1);
  assert(net.largest <= 1200, `largest datagram ${net.largest}`);
});

Deno.test("ServerState on the fake network: duplicated datagrams are ACKed again but shown once", () => {
  const { net, type, addr } = chat(["userA", "userB", "userC"], {
    duplicate: 1,
  });
  let acksToA = 0;
  net.filter = (d) => {
    const r = decodeMessage(d.bytes);
    if (d.to.port === 6000 && r.ok && r.message.t === "ack") acksToA++;
    return false;
  };
  type("userA", "send userB twice?");
  net.run(200);
  assert(acksToA >= 2, `every copy ACKed: ${acksToA}`);
  type("userA", "send_all all twice?");
  net.run(200);
  for (const n of ["userB", "userC"]) {
    assertEquals(
      net.lines(addr(n)).filter((l) => l === "Group Chat userA: all twice?")
        .length,
      1,
    );
  }
  assertEquals(
    net.lines(addr("userB")).filter((l) => l === "userA: twice?").length,
    1,
  );
  assertEquals(
    net.lines(SERVER).filter((l) => l.startsWith("[Client userA sent")).length,
    1,
  );
  assertEquals(
    net.lines(addr("userA")).filter((l) =>
      l === "[Group Message received by Server.]"
    ).length,
    1,
  );
});

Deno.test("ServerState on the fake network: a forged datagram claiming to be userA is not shown and cannot dereg userA", () => {
  const { net, addr, server, clients } = chat(["userA", "userB"]);
  net.inject(
    EVIL,
    addr("userB"),
    encodeMessage({
      t: "msg",
      id: 1,
      from: "userA",
      g: 0,
      k: "userA:x:1",
      pi: 0,
      pn: 1,
      text: "forged",
    }),
  );
  for (const tok of ["0".repeat(32), ""]) {
    net.inject(
      EVIL,
      SERVER,
      encodeMessage({ t: "dereg", id: 2, name: "userA", tok }),
    );
  }
  // Forged server datagrams to userB: a table and a notice.
  net.inject(
    EVIL,
    addr("userB"),
    encodeMessage({
      t: "tbl",
      id: 3,
      ver: 99,
      i: 0,
      n: 1,
      rows: [["userA", "10.6.6.6", 1, 1]],
    }),
  );
  net.run(100);
  assert(!net.lines(addr("userB")).some((l) => l.includes("forged")));
  assertEquals(server.table.map((r) => r[3]), [1, 1]);
  assertEquals(clients.get("userB")!.table, server.table);
  assertEquals(clients.get("userB")!.dropped.impersonation, 1);
  assertEquals(clients.get("userB")!.dropped.not_server, 1);
  assertEquals(server.stats().dropped.unauthenticated, 2);
  assertEquals(clients.get("userA")!.phase, "online");
});

Deno.test("ServerState on the fake network: before an address is proven, no reply is over 3x the request", () => {
  const { net, server } = chat(["userA", "userB"]);
  const replies: { to: number; size: number }[] = [];
  net.filter = (d) => {
    if (d.to.port === EVIL.port) {
      replies.push({ to: d.to.port, size: d.bytes.length });
    }
    return false;
  };
  const reqs = [
    encodeMessage({ t: "reg", id: 1, name: "userA" }),
    encodeMessage({ t: "reg", id: 2, name: "newbie" }),
    encodeMessage({ t: "reg", id: 3, name: "x", ck: "y".repeat(22) }),
    encodeMessage({ t: "sync", id: 4, tok: "" }),
  ];
  for (const r of reqs) net.inject(EVIL, SERVER, r);
  net.run(1000);
  assertEquals(replies.length, reqs.length);
  const smallest = Math.min(...reqs.map((r) => r.length));
  for (const r of replies) assert(r.size <= 3 * smallest, `${r.size} bytes`);
  assertEquals(server.table.length, 2);
});

Deno.test("ServerState on the fake network: garbage everywhere is dropped and counted; everything works afterwards", () => {
  const { net, type, addr, server, clients } = chat(["userA", "userB"]);
  const e = new TextEncoder();
  const junk = [
    new Uint8Array(1201),
    new Uint8Array([0xed, 0xa0, 0x80]),
    e.encode("GET / HTTP/1.1"),
    e.encode('{"v":0,"t":"ack","id":1}'),
    e.encode('{"v":1,"t":"hello","id":1}'),
    e.encode('{"v":1,"t":"ack","id":"1"}'),
  ];
  for (const j of junk) {
    for (const to of [SERVER, addr("userA"), addr("userB")]) {
      net.inject(EVIL, to, j);
      net.inject(addr("userA"), to, j); // and from a known address
    }
  }
  net.run(100);
  const total = (d: Record<string, number>) =>
    Object.values(d).reduce((a, b) => a + b, 0);
  assertEquals(total(server.stats().dropped), 12);
  assertEquals(total(clients.get("userA")!.dropped), 12);
  assertEquals(total(clients.get("userB")!.dropped), 12);
  type("userA", "send userB still fine");
  type("userB", "send_all me too");
  net.run(200);
  assert(net.lines(addr("userB")).includes("userA: still fine"));
  assert(
    net.lines(addr("userB")).includes("[Group Message received by Server.]"),
  );
  assert(net.lines(addr("userA")).includes("Group Chat userB: me too"));
  assert(net.lines(addr("userA")).includes("[Message received by userB.]"));
});

Deno.test("ServerState on the fake network: 200 users, no datagram over 1,200 bytes, a summary above 30 rows", () => {
  const names = Array.from({ length: 200 }, (_, i) => `user${i}`);
  const { net, addr, type } = chat(names);
  net.run(3000);
  assert(net.largest <= 1200, `largest ${net.largest}`);
  const lines = net.lines(addr("user0"));
  const dicts = lines.filter((l) => l.startsWith("{'"));
  assertEquals(dicts.length, 30, "a dict up to 30 rows");
  assertEquals(JSON.stringify(dicts.at(-1)).split("Online").length - 1, 30);
  assertEquals(
    lines.at(-1),
    "{200 users: 200 Online, 0 Offline; changed: user199 Online}",
  );
  // Every line is one line.
  assert(lines.every((l) => !l.includes("\n")));
  type("user5", "dereg user5");
  net.run(500);
  assertEquals(net.lines(addr("user0")).slice(-2), [
    "[Client table updated.]",
    "{200 users: 199 Online, 1 Offline; changed: user5 Offline}",
  ]);
  assert(net.largest <= 1200);
});

Deno.test("ServerState on the fake network: duplicate logins from another address, answered and not", () => {
  const { net, addr, clients } = chat(["userA", "userB"]);
  const NEW = clientAddr(9);
  const b2 = net.add(
    NEW,
    new ClientState({ name: "userB", server: SERVER, random: seededBytes(9) }),
  );
  const a0 = net.lines(addr("userA")).length;
  const b0 = net.lines(addr("userB")).length;
  b2.start(net.now);
  net.step();
  net.run(1000);
  assertEquals(b2.exitCode, 5);
  assertEquals(net.lines(NEW), [
    "[Username userB is already in use by another session.]",
  ]);
  assertEquals(net.lines(SERVER).at(-1), "[Duplicate login detected.]");
  assertEquals(
    net.lines(addr("userA")).length,
    a0,
    "the old session untouched",
  );
  assertEquals(net.lines(addr("userB")).length, b0);
  assertEquals(clients.get("userB")!.phase, "online");
  net.remove(NEW);

  // The old session is gone (crashed): the newcomer takes the name over.
  net.remove(addr("userB"));
  const b3 = net.add(
    NEW,
    new ClientState({ name: "userB", server: SERVER, random: seededBytes(10) }),
  );
  b3.start(net.now);
  net.step();
  net.run(1000);
  assertEquals(b3.phase, "online");
  assertEquals(net.lines(NEW), [
    "[Welcome, You are registered.]",
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6009, 'Online']}",
  ]);
  assertEquals(net.lines(addr("userA")).slice(-2), [
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6009, 'Online']}",
  ]);
  // And it works: userA reaches the new userB peer to peer.
  clients.get("userA")!.command("send userB welcome back", net.now);
  net.step();
  net.run(100);
  assertEquals(net.lines(NEW).at(-1), "userA: welcome back");
});

Deno.test("ServerState on the fake network: a client whose ACKs were lost is marked Offline, comes back, and sees nothing twice", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  let drop = true;
  net.filter = (d) => {
    const r = decodeMessage(d.bytes);
    return drop && d.from.port === 6001 && d.to.port === SERVER.port &&
      r.ok && r.message.t === "ack";
  };
  const b0 = net.lines(addr("userB")).length;
  const t = net.now;
  type("userA", "send_all hello");
  net.run(600);
  drop = false;
  net.run(3000);
  assertEquals(net.lines(addr("userB")).slice(b0), [
    "Group Chat userA: hello",
    "[The server marked you Offline; registering again.]",
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online']}",
  ]);
  // userA was told the truth as the server saw it, then that it arrived.
  const hms = stamp(t).slice(11);
  assertEquals(net.lines(addr("userA")).slice(-8), [
    "[Group Message received by Server.]",
    "[No ACK from userB, message not delivered.]",
    `[Offline Message sent at ${hms} received by the server and saved.]`,
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Offline']}",
    "[Client table updated.]",
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online']}",
    `[Offline Message sent at ${hms} received by userB]`,
  ]);
});

Deno.test("ServerState: a request sent again after its answer left the cache is a replay: dropped, not relayed twice", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.take(A);
  h.take(B);
  const all: Message = {
    t: "all",
    id: 90_000,
    tok: h.tok(A),
    k: "a:replayed",
    pi: 0,
    pn: 1,
    text: "once",
  };
  h.recv(A, all);
  assertEquals(of(h.take(B), "msg").length, 1);
  h.take(A);
  // A retransmission while the answer is cached: answered, not relayed.
  h.advance(2_000);
  h.recv(A, all);
  assertEquals(h.take(A).filter((m) => m.t === "ack" && m.id === 90_000), [
    { t: "ack", id: 90_000 },
  ]);
  assertEquals(of(h.take(B), "msg"), []);
  // Minutes later, as captured on the path (userA kept its session, and
  // its keepalives go on): the answer left the cache; the request is a
  // replay.
  for (let i = 0; i < 6; i++) {
    h.advance(10_000);
    h.recv(A, { t: "ka", id: 90_001 + i, tok: h.tok(A) });
  }
  h.recv(A, all);
  assertEquals(of(h.take(B), "msg"), [], "not relayed again");
  assertEquals(h.server.stats().dropped.replay, 1);
  // A new request of the same session goes through.
  h.recv(A, { ...all, id: 90_100, k: "a:new", text: "new" });
  assertEquals(of(h.take(B), "msg").length, 1);
});

Deno.test("ServerState: a registration with the session's token sent again after it left the cache is a replay: a user that left stays Offline", () => {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  // userA refreshes with its token (as `reg userA` while Online does), then
  // leaves.
  h.take(A);
  const reg: Message = { t: "reg", id: 91_000, name: "userA", tok: h.tok(A) };
  h.recv(A, reg);
  assertEquals(h.take(A).filter((m) => m.t === "welcome").length, 1);
  h.recv(A, { t: "dereg", id: 91_001, name: "userA", tok: h.tok(A) });
  h.advance(20);
  assertEquals(h.server.table[0][3], 0, "userA Offline");
  // A minute later the captured refresh comes again from userA's address.
  h.advance(60_000);
  const lines0 = h.lines.length;
  h.recv(A, reg);
  h.advance(20);
  assertEquals(h.server.table[0][3], 0, "still Offline");
  assertEquals(h.lines.slice(lines0), []);
  assertEquals(h.server.stats().dropped.replay, 1);
  // userA itself registering again (a new id) is welcomed.
  h.recv(A, { ...reg, id: 91_100 });
  h.advance(20);
  assertEquals(h.server.table[0][3], 1, "userA back by its own reg");
});

Deno.test("ServerState: in a big room a re-login from the same address is quiet too: summaries say q, no console line", () => {
  const h = new Harness();
  const addrs = Array.from({ length: 40 }, (_, i) => at(7000 + i));
  addrs.forEach((a, i) => h.register(`user${i}`, a));
  h.advance(2_000);
  for (const a of addrs) h.take(a);
  const lines0 = h.lines.length;
  // user5 restarts on its port: a new process, no token.
  h.register("user5", addrs[5]);
  h.advance(2_000);
  assertEquals(h.lines.slice(lines0), ["[Duplicate login detected.]"]);
  const sums = of(h.take(addrs[0]), "sum");
  assert(sums.length > 0, "the new key reaches the others");
  assert(sums.every((m) => m.q === 1), JSON.stringify(sums));
  // A real change afterwards is not quiet.
  h.recv(addrs[7], {
    t: "dereg",
    id: h.id(),
    name: "user7",
    tok: h.tok(addrs[7]),
  });
  h.advance(2_000);
  const after = of(h.take(addrs[0]), "sum");
  assert(after.length > 0 && after.every((m) => m.q === undefined));
});
