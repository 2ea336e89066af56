/**
 * The server core and its offline store through requests and results
 * (`store: "external"`): what waits for the store's answer, what a refusal
 * gives, and what a restart restores.
 */
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { ServerState } from "../server/mod.ts";
import type { StoredMessage, StoreResult } from "../server/store.ts";
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
