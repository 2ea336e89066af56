/**
 * The server core and its offline store through requests and results
 * (`store: "external"`): what waits for the store's answer, what a refusal
 * gives, and what a restart restores.
 */
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { ServerState } from "../server/mod.ts";
import type {
  JournalEntry,
  StoredMessage,
  StoreResult,
} from "../server/store.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { seededBytes } from "./_sim.ts";

const T0 = 1_700_000_000_000;
const A: Address = { hostname: "127.0.0.1", port: 6000 };
const B: Address = { hostname: "127.0.0.1", port: 6001 };

/** A server with the store outside, and clients played by hand. */
class Harness {
  now = T0;
  server = new ServerState({ random: seededBytes(1), store: "external" });
  sent: { to: Address; m: Message }[] = [];
  tokens = new Map<number, string>();
  #id = 100;

  recv(from: Address, m: Message): void {
    this.server.receiveDatagram(encodeMessage(m), from, this.now);
    this.#collect();
  }

  result(result: StoreResult): void {
    this.server.handleStoreResult(result, this.now);
    this.#collect();
  }

  /** Lets `ms` pass on the fake clock and runs every timer due. */
  tick(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const t = this.server.getTimer();
      if (t === undefined || t > end) break;
      this.now = Math.max(this.now, t);
      this.server.handleTimer(this.now);
      this.#collect();
    }
    this.now = end;
  }

  /** What went to `to`, and forgets it. */
  take(to: Address): Message[] {
    const mine = this.sent.filter((s) => s.to.port === to.port);
    this.sent = this.sent.filter((s) => s.to.port !== to.port);
    return mine.map((s) => s.m);
  }

  register(name: string, from: Address): Message {
    this.recv(from, { t: "reg", id: this.#id++, name });
    const retry = this.take(from).find((m) => m.t === "retry");
    assert(retry?.t === "retry");
    this.recv(from, { t: "reg", id: this.#id++, name, ck: retry.ck });
    const welcome = this.sent.find((s) =>
      s.to.port === from.port && s.m.t === "welcome"
    )?.m;
    assert(welcome?.t === "welcome");
    this.tokens.set(from.port, welcome.tok);
    this.ackAll(from);
    return welcome;
  }

  /** ACKs every reliable datagram sent to `to` so far. */
  ackAll(to: Address): Message[] {
    const got = this.take(to);
    for (const m of got) {
      if (m.t === "tbl" || m.t === "msg" || m.t === "note" || m.t === "ping") {
        this.recv(to, { t: "ack", id: m.id });
      }
    }
    return got;
  }

  #collect(): void {
    for (const d of this.server.datagramsToSend()) {
      const r = decodeMessage(d.bytes);
      assert(r.ok);
      this.sent.push({ to: d.to, m: r.message });
    }
  }
}

/** userA and userB registered; userB deregistered, so Offline. */
function withOfflineB(): Harness {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.recv(B, { t: "dereg", id: 1, name: "userB", tok: h.tokens.get(B.port)! });
  h.ackAll(A);
  h.take(B);
  return h;
}

function saveToB(h: Harness, id: number): void {
  h.recv(A, {
    t: "save",
    id,
    tok: h.tokens.get(A.port)!,
    to: "userB",
    k: "key-1",
    pi: 0,
    pn: 1,
    text: "hello",
  });
}

Deno.test("ServerState with an external store ACKs a save only once the store says saved", () => {
  const h = withOfflineB();
  saveToB(h, 50);
  assertEquals(h.take(A), [], "no ACK before the store answers");
  const requests = h.server.storeRequests();
  assertEquals(requests.length, 1);
  const request = requests[0];
  assert(request.op === "save");
  assertMatch(request.message.id, /^[0-9a-f]{8}-1$/);
  assertEquals(
    { ...request.message, id: "", savedAt: "" },
    {
      id: "",
      to: "userB",
      from: "userA",
      group: false,
      text: "hello",
      messageKey: "key-1",
      savedAt: "",
    },
  );
  assertEquals(h.server.storeRequests(), [], "requests are taken once");

  // A repeat while the store decides is not acted on again.
  saveToB(h, 50);
  assertEquals(h.take(A), []);
  assertEquals(h.server.storeRequests(), []);
  assertEquals(h.server.stats().dropped.duplicate, 1);

  h.result({
    op: "save",
    id: request.message.id,
    to: "userB",
    outcome: "saved",
  });
  assertEquals(h.take(A), [
    { t: "ack", id: 50, r: "saved", at: request.message.savedAt },
  ]);
  assertEquals(h.server.stats().offlineMessages, 1);
  // Now a repeat is answered from the cache.
  saveToB(h, 50);
  assertEquals(h.take(A).map((m) => m.t), ["ack"]);

  // userB comes back: the message is delivered, then deleted by id.
  const welcome = h.register("userB", B);
  assert(welcome.t === "welcome");
  assertEquals(welcome.off, 1);
  assertEquals(h.server.storeRequests(), [
    { op: "delete", to: "userB", id: request.message.id },
  ]);
  const notes = h.take(A).filter((m) => m.t === "note");
  assertEquals(notes.map((m) => m.t === "note" && m.k), ["dlv"]);
  assertEquals(h.server.stats().offlineMessages, 0);
});

Deno.test("ServerState with an external store refuses a save the store could not make (unavailable, full)", () => {
  for (const outcome of ["unavailable", "full"] as const) {
    const h = withOfflineB();
    saveToB(h, 60);
    const [request] = h.server.storeRequests();
    assert(request?.op === "save");
    h.result({ op: "save", id: request.message.id, to: "userB", outcome });
    assertEquals(h.take(A), [
      {
        t: "err",
        id: 60,
        code: outcome === "full" ? "full" : "store_unavailable",
        name: "userB",
      },
    ]);
    assertEquals(h.server.stats().offlineMessages, 0);
    // A result for an id the core no longer awaits changes nothing.
    h.result({ op: "save", id: request.message.id, to: "userB", outcome });
    assertEquals(h.take(A), []);
  }
});

Deno.test("ServerState with an external store tells a group sender noack only once the store answers", () => {
  const h = withOfflineB();
  h.recv(A, {
    t: "all",
    id: 70,
    tok: h.tokens.get(A.port)!,
    k: "group-1",
    pi: 0,
    pn: 1,
    text: "hi all",
  });
  // Written ahead first (server/journal.ts): ACKed once the journal has it.
  assertEquals(h.take(A), []);
  const [entry] = h.server.storeRequests();
  assert(entry?.op === "journal");
  h.result({ op: "journal", id: entry.entry.id, outcome: "saved" });
  assertEquals(h.take(A).map((m) => m.t), ["ack"]);
  const [request] = h.server.storeRequests();
  assert(request?.op === "save");
  assertEquals(request.message.group, true);
  h.result({
    op: "save",
    id: request.message.id,
    to: "userB",
    outcome: "saved",
  });
  const notes = h.take(A).flatMap((m) => m.t === "note" ? [m.k] : []);
  assertEquals(notes, ["noack", "done"]);
});

Deno.test("ServerState.restoreStored() delivers what a durable store kept across a restart", () => {
  const h = new Harness();
  const kept: StoredMessage = {
    id: "0badcafe-7",
    to: "userB",
    from: "userA",
    group: false,
    text: "from before",
    messageKey: "key-old",
    savedAt: "2023-10-21 02:14:41",
  };
  h.server.restoreStored([kept], h.now);
  assertEquals(h.server.stats().offlineMessages, 1);
  h.register("userA", A);
  const welcome = h.register("userB", B);
  assert(welcome.t === "welcome");
  assertEquals(welcome.off, 1);
  assertEquals(h.server.storeRequests(), [
    { op: "delete", to: "userB", id: kept.id },
  ]);
});

// Write-ahead (server/journal.ts): a group message journaled before it is
// ACKed, a private message taken `pending` saved before it is answered, and
// what a new leader recovers from the journal.

const C: Address = { hostname: "127.0.0.1", port: 6002 };

/** userA, userB and userC registered and Online. */
function threeOnline(): Harness {
  const h = new Harness();
  h.register("userA", A);
  h.register("userB", B);
  h.register("userC", C);
  settle(h);
  assertEquals(h.server.storeRequests(), []);
  return h;
}

/** Table updates sent and ACKed: nothing left to A, B or C. */
function settle(h: Harness): void {
  for (let i = 0; i < 5; i++) {
    h.tick(1_000);
    for (const to of [A, B, C]) h.ackAll(to);
  }
}

/** What went to `to` but table updates, and forgets it all. */
function chat(h: Harness, to: Address): Message[] {
  return h.take(to).filter((m) => m.t !== "tbl");
}

/** As {@linkcode chat}, ACKing what is reliable. */
function ackChat(h: Harness, to: Address): Message[] {
  return h.ackAll(to).filter((m) => m.t !== "tbl");
}

function allFromA(h: Harness, id: number): void {
  h.recv(A, {
    t: "all",
    id,
    tok: h.tokens.get(A.port)!,
    k: "group-9",
    pi: 0,
    pn: 1,
    text: "to all",
  });
}

Deno.test("write-ahead: a group message is ACKed and fanned out only once its journal entry is saved, and unjournaled once every recipient ACKed", () => {
  const h = threeOnline();
  allFromA(h, 80);
  assertEquals(chat(h, A), [], "no ACK before the journal is answered");
  assertEquals(chat(h, B), [], "no fan-out before the journal is answered");
  const requests = h.server.storeRequests();
  assertEquals(requests.length, 1);
  const [request] = requests;
  assert(request.op === "journal");
  assertEquals({ ...request.entry, id: "", savedAt: "" }, {
    id: "",
    from: "userA",
    text: "to all",
    messageKey: "group-9",
    savedAt: "",
    recipients: ["userB", "userC"],
  });
  // A repeat while the store decides is not acted on again.
  allFromA(h, 80);
  assertEquals(chat(h, A), []);
  assertEquals(h.server.storeRequests(), []);

  h.result({ op: "journal", id: request.entry.id, outcome: "saved" });
  assertEquals(chat(h, A).map((m) => m.t), ["ack"]);
  ackChat(h, B);
  assertEquals(h.server.storeRequests(), [], "userC has not ACKed yet");
  const toC = ackChat(h, C);
  assertEquals(toC.filter((m) => m.t === "msg").length, 1);
  assertEquals(h.server.storeRequests(), [
    { op: "unjournal", id: request.entry.id },
  ]);
});

Deno.test("write-ahead: a group message whose journal write is refused is fanned out live all the same", () => {
  const h = threeOnline();
  allFromA(h, 81);
  const [request] = h.server.storeRequests();
  assert(request?.op === "journal");
  h.result({ op: "journal", id: request.entry.id, outcome: "unavailable" });
  assertEquals(chat(h, A).map((m) => m.t), ["ack"]);
  assertEquals(ackChat(h, B).filter((m) => m.t === "msg").length, 1);
  assertEquals(ackChat(h, C).filter((m) => m.t === "msg").length, 1);
  // Deleted all the same once resolved: an unconfirmed write may have been made.
  assertEquals(h.server.storeRequests(), [
    { op: "unjournal", id: request.entry.id },
  ]);
});

Deno.test("write-ahead: with the in-memory store nothing is journaled and a group message is ACKed at once", () => {
  const h = new Harness();
  h.server = new ServerState({ random: seededBytes(1) });
  h.register("userA", A);
  h.register("userB", B);
  h.tick(1_000);
  h.ackAll(A);
  h.ackAll(B);
  allFromA(h, 82);
  assertEquals(chat(h, A).map((m) => m.t), ["ack"]);
  assertEquals(chat(h, B).map((m) => m.t), ["msg"]);
  assertEquals(h.server.storeRequests(), []);
});

function pendingToB(h: Harness, id: number): void {
  h.recv(A, {
    t: "save",
    id,
    tok: h.tokens.get(A.port)!,
    to: "userB",
    k: "key-p",
    pi: 0,
    pn: 1,
    text: "are you there",
  });
}

Deno.test("write-ahead: a private message to an Online user is saved before it is answered pending, and the copy deleted once shown", () => {
  const h = threeOnline();
  pendingToB(h, 90);
  assertEquals(chat(h, A), [], "not answered before the copy is saved");
  assertEquals(chat(h, B), [], "not tried before the copy is saved");
  const [request] = h.server.storeRequests();
  assert(request?.op === "save");
  assertEquals(request.message.to, "userB");
  assertEquals(request.message.group, false);
  h.result({
    op: "save",
    id: request.message.id,
    to: "userB",
    outcome: "saved",
  });
  assertEquals(chat(h, A), [{ t: "ack", id: 90, r: "pending" }]);
  assertEquals(ackChat(h, B).map((m) => m.t), ["msg"]);
  assertEquals(h.server.storeRequests(), [
    { op: "delete", to: "userB", id: request.message.id },
  ]);
  const notes = chat(h, A).flatMap((m) => m.t === "note" ? [m.k] : []);
  assertEquals(notes, ["rcv"]);
  assertEquals(h.server.stats().offlineMessages, 0);
});

Deno.test("write-ahead: a pending private message whose live delivery fails keeps its saved copy, tells saved, and saves no second copy", () => {
  const h = threeOnline();
  pendingToB(h, 91);
  const [request] = h.server.storeRequests();
  assert(request?.op === "save");
  h.result({
    op: "save",
    id: request.message.id,
    to: "userB",
    outcome: "saved",
  });
  assertEquals(chat(h, A), [{ t: "ack", id: 91, r: "pending" }]);
  // userB never ACKs: it is lost, the copy stays.
  chat(h, B);
  const toA: Message[] = [];
  for (let i = 0; i < 10; i++) {
    h.tick(500);
    toA.push(...ackChat(h, A));
    chat(h, B);
  }
  assertEquals(h.server.storeRequests(), [], "no second save, no delete");
  const notes = toA.flatMap((m) =>
    m.t === "note" && m.ref === "key-p" ? [[m.k, m.at]] : []
  );
  assertEquals(notes, [["saved", request.message.savedAt]]);
  assertEquals(h.server.stats().offlineMessages, 1);
  // userB back: the copy is delivered from the offline list.
  const welcome = h.register("userB", B);
  assert(welcome.t === "welcome");
  assertEquals(welcome.off, 1);
});

Deno.test("write-ahead: recovery turns journal entries into the missing copies only, with deterministic ids, and unjournals them; twice is harmless", () => {
  const entry: JournalEntry = {
    id: "0ddba11-4",
    from: "userA",
    text: "in flight",
    messageKey: "group-7",
    savedAt: "2023-10-21 02:14:41",
    recipients: ["userB", "userC", "userD"],
  };
  // userB already has its copy (saved before the crash).
  const savedForB: StoredMessage = {
    id: "0ddba11-5",
    to: "userB",
    from: "userA",
    group: true,
    text: "in flight",
    messageKey: "group-7",
    savedAt: entry.savedAt,
  };
  const recover = (kept: StoredMessage[]) => {
    const h = new Harness();
    h.server.restoreStored(kept, h.now);
    h.server.restoreJournal([entry], h.now);
    return { h, requests: h.server.storeRequests() };
  };
  const { h, requests } = recover([savedForB]);
  assertEquals(requests.map((r) => r.op), ["save", "save"]);
  const copies = requests.flatMap((r) => r.op === "save" ? [r.message] : []);
  assertEquals(copies.map((m) => [m.to, m.id]), [
    ["userC", "0ddba11-4.1"],
    ["userD", "0ddba11-4.2"],
  ]);
  for (const m of copies) {
    assertEquals({ ...m, id: "", to: "" }, { ...savedForB, id: "", to: "" });
  }
  h.result({ op: "save", id: copies[0].id, to: "userC", outcome: "saved" });
  assertEquals(h.server.storeRequests(), [], "one copy still unanswered");
  h.result({ op: "save", id: copies[1].id, to: "userD", outcome: "saved" });
  assertEquals(h.server.storeRequests(), [
    { op: "unjournal", id: entry.id },
  ]);
  assertEquals(h.server.stats().offlineMessages, 3);

  // A second leader (the unjournal lost with the first): nothing to save.
  const again = recover([savedForB, ...copies]);
  assertEquals(again.requests, [{ op: "unjournal", id: entry.id }]);
  // A recovery whose copies were not all answered: the same ids again.
  const third = recover([savedForB, copies[0]]);
  assertEquals(
    third.requests.map((r) => r.op === "save" ? r.message.id : r.op),
    ["0ddba11-4.2"],
  );
});
