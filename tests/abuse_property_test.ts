/**
 * Issue 13, "Everyone else keeps chatting while a few abuse the server", as
 * property and simulation tests of the cores: one sender's partials never
 * cause another sender's complete message to be lost; a copied message key
 * never hides a message; the server never accepts a message a client would
 * refuse; "received" means shown; a refusal never marks a recipient Offline;
 * quotas and budgets shed what is over them, and count it.
 */
import fc from "fast-check";
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import { MAX_MESSAGE_BYTES, MAX_PARTS } from "../protocol/constants.ts";
import type { Message, TextPart } from "../protocol/messages.ts";
import {
  HashedRateLimiter,
  RateLimiter,
  TokenBucket,
} from "../protocol/rate_limit.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { splitText } from "../protocol/text.ts";
import { splitMessage } from "../client/text_parts.ts";
import { deliverable } from "../server/relay.ts";
import { ServerState } from "../server/state.ts";
import { NOTICE_WINDOW } from "../server/notices.ts";
import type { Node } from "./_sim.ts";
import { chat, clientAddr, seededBytes, SERVER } from "./_sim.ts";
import { withSendShed } from "../runtime/server.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";

function parts(k: string, text: string): TextPart[] {
  const texts = splitText(text);
  return texts.map((t, pi) => ({ k, pi, pn: texts.length, text: t }));
}

Deno.test("Reassembler: one sender's partials never cause another sender's complete message to be lost", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          abuser: fc.integer({ min: 0, max: 20 }),
          k: fc.integer({ min: 0, max: 2_000 }),
          pn: fc.integer({ min: 2, max: MAX_PARTS }),
          size: fc.integer({ min: 1, max: 900 }),
        }),
        { maxLength: 400 },
      ),
      fc.integer({ min: 1, max: MAX_MESSAGE_BYTES / 2 }),
      fc.nat(),
      (abuse, victimSize, seed) => {
        // 21 abusers × 32 Ki per sender stay under the 1 Mi total.
        const r = new Reassembler({ maxBuffered: 1 << 20 });
        const victim = parts("v1", "é".repeat(victimSize));
        let done: string | undefined;
        let vi = 0;
        abuse.forEach((a, i) => {
          r.add(`abuser${a.abuser}`, {
            k: `k${a.k}`,
            pi: 0,
            pn: a.pn,
            text: "x".repeat(a.size),
          }, i);
          if ((i + seed) % 3 === 0 && vi < victim.length) {
            const out = r.add("victim", victim[vi++], i);
            if (out.status === "complete") done = out.text;
            assert(out.status !== "refused", JSON.stringify(out));
          }
        });
        while (vi < victim.length) {
          const out = r.add("victim", victim[vi++], abuse.length);
          if (out.status === "complete") done = out.text;
        }
        assertEquals(done, "é".repeat(victimSize));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("Reassembler: a sender holds at most its own bounds; its newest partial pushes out its oldest", () => {
  const r = new Reassembler({ maxPerSource: 2 });
  for (let i = 0; i < 1_250; i++) {
    r.add("x", { k: `k${i}`, pi: 0, pn: 2, text: "a" }, i);
  }
  assertEquals(r.heldBy("x"), 2);
  assertEquals(r.shed.evicted, 1_248);
  // Over 16 KiB in all: refused, as clients refuse it before sending.
  const big = "b".repeat(900);
  let last;
  for (let pi = 0; pi < 64; pi++) {
    last = r.add("y", { k: "poison", pi, pn: 64, text: big }, 0);
    if (last.status === "refused") break;
  }
  assertEquals(last, { status: "refused", reason: "too_big" });
  assertEquals(r.heldBy("y"), 0);
});

Deno.test("the server never accepts a message a client would refuse", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 20_000 }),
      (text) => {
        if (deliverable(text)) {
          assert(splitMessage(text).ok, "the client refuses it");
          assert(splitText(text).length <= MAX_PARTS);
        }
        if (splitMessage(text).ok) assert(deliverable(text));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("rate limits: unproven sources cost fixed memory; the budget is global", () => {
  const hashed = new HashedRateLimiter({ burst: 1, rate: 1, slots: 64 });
  let allowed = 0;
  for (let i = 0; i < 10_000; i++) if (hashed.allow(`10.0.${i}`, 0)) allowed++;
  assertEquals(allowed, 64, "one token per slot, whatever the width");
  const budget = new TokenBucket({ burst: 10, rate: 1_000 });
  let taken = 0;
  for (let i = 0; i < 100; i++) if (budget.take(0)) taken++;
  assertEquals(taken, 10);
  assertEquals(budget.take(1), true, "1,000/s: one more after 1 ms");
  const fair = new RateLimiter({ burst: 1, rate: 1_000 });
  assertEquals(fair.allow("a", 0), true);
  assertEquals(fair.allow("a", 10, { rate: 10 }), false, "a smaller share");
});

/** A hand-played endpoint on the fake network: it records what it gets. */
class Raw implements Node {
  got: { from: Address; m: Message }[] = [];
  out: { to: Address; bytes: Uint8Array }[] = [];
  receiveDatagram(bytes: Uint8Array, from: Address): void {
    const d = decodeMessage(bytes);
    if (d.ok) this.got.push({ from, m: d.message });
  }
  handleTimer(): void {}
  getTimer(): number | undefined {
    return undefined;
  }
  datagramsToSend() {
    return this.out.splice(0);
  }
  events() {
    return [];
  }
  send(to: Address, m: Message): void {
    this.out.push({ to, bytes: encodeMessage(m) });
  }
  last<T extends Message["t"]>(t: T): Extract<Message, { t: T }> {
    const m = this.got.findLast((g) => g.m.t === t)?.m;
    assert(m !== undefined, `a ${t}`);
    return m as Extract<Message, { t: T }>;
  }
}

/** A chat of real clients plus a registered abuser played by hand. */
function withAbuser(names: string[], limits = {}) {
  const c = chat(names, { limits });
  const x = new Raw();
  const xAddr = clientAddr(90);
  c.net.add(xAddr, x);
  let id = 1;
  x.send(SERVER, { t: "reg", id, name: "userX" });
  c.net.step();
  c.net.run(10);
  x.send(SERVER, { t: "reg", id: ++id, name: "userX", ck: x.last("retry").ck });
  c.net.step();
  c.net.run(200);
  const tok = x.last("welcome").tok;
  // It ACKs what the server sends it, as a client does.
  const ackAll = () => {
    for (const g of x.got.splice(0)) {
      if (g.m.t !== "ack" && g.m.t !== "err" && g.m.t !== "welcome") {
        x.send(g.from, { t: "ack", id: g.m.id });
      }
    }
    c.net.step();
  };
  c.net.run(200);
  ackAll();
  c.net.run(200);
  ackAll();
  return { ...c, x, xAddr, tok, nextId: () => ++id + 1_000, ackAll };
}

Deno.test("simulation: 1,250 first parts from one user do not cost a third user's long message, and 'received' means shown", () => {
  const c = withAbuser(["userA", "userB", "userC"]);
  const b = c.addr("userB");
  for (let i = 0; i < 1_250; i++) {
    c.x.send(b, {
      t: "msg",
      id: c.nextId(),
      from: "userX",
      g: 0,
      k: `flood${i}`,
      pi: 0,
      pn: 2,
      text: "y".repeat(800),
    });
  }
  c.net.step();
  const long = "long ".repeat(2_000).trim();
  c.type("userC", `send userB ${long}`);
  c.net.run(3_000);
  assert(c.net.lines(b).includes(`userC: ${long}`), "the long message shown");
  assert(
    c.net.lines(c.addr("userC")).includes("[Message received by userB.]"),
    c.net.lines(c.addr("userC")).join("\n"),
  );
  // The flood's parts were ACKed `held`: none of them is a received message.
  const acks = c.x.got.filter((g) => g.m.t === "ack" && g.from.port === b.port);
  assert(acks.length > 0, "the flood was ACKed");
  assert(acks.every((g) => g.m.t === "ack" && g.m.r === "held"), "held");
  assertEquals(c.clients.get("userB")!.phase, "online");
});

Deno.test("simulation: a copied message key never hides a message (server relay and peer to peer)", () => {
  const c = withAbuser(["userA", "userB"]);
  const b = c.addr("userB");
  // userX learned userA's next key (keys are visible to every recipient).
  c.type("userA", "send userB first");
  c.net.run(500);
  const key = (n: number) => `userA:${"0".repeat(10)}:${n}`;
  for (const n of [1, 2, 3, 4, 5]) {
    for (const to of [b, SERVER]) {
      const part = { k: key(n), pi: 0, pn: 1, text: `poison ${n}` };
      if (to === SERVER) {
        c.x.send(SERVER, {
          t: "save",
          id: c.nextId(),
          tok: c.tok,
          to: "userB",
          ...part,
        });
      } else {
        c.x.send(b, { t: "msg", id: c.nextId(), from: "userX", g: 0, ...part });
      }
    }
  }
  c.net.step();
  c.net.run(1_000);
  c.ackAll();
  c.type("userA", "send userB second");
  c.type("userA", "send_all third");
  c.net.run(2_000);
  const lines = c.net.lines(b);
  for (const text of ["userA: first", "userA: second"]) {
    assertEquals(lines.filter((l) => l === text).length, 1, text);
  }
  assertEquals(lines.filter((l) => l === "Group Chat userA: third").length, 1);
});

Deno.test("simulation: a hand-built 64-part group message over 16 KiB is refused; nobody is marked Offline", () => {
  const c = withAbuser(["userA", "userB"]);
  for (let pi = 0; pi < 64; pi++) {
    c.x.send(SERVER, {
      t: "all",
      id: c.nextId(),
      tok: c.tok,
      k: "poison",
      pi,
      pn: 64,
      text: "z".repeat(900),
    });
  }
  c.net.step();
  c.net.run(200);
  assert(c.x.got.some((g) => g.m.t === "err" && g.m.code === "too_big"));
  c.type("userA", "send_all still here");
  c.net.run(3_000);
  c.ackAll();
  assert(c.net.lines(c.addr("userB")).includes("Group Chat userA: still here"));
  // The real users stay Online (the hand-played abuser ACKs only now and
  // then, and may be marked Offline for that).
  const rows = c.server.table.filter((r) => r[0] !== "userX");
  assertEquals(rows.filter((r) => r[3] === 0).length, 0, JSON.stringify(rows));
  assert((c.server.stats().dropped.too_big ?? 0) >= 1);
});

Deno.test("simulation: one user's partial group parts do not make another's group message 'too long'", () => {
  const c = withAbuser(["userA", "userB"]);
  for (let i = 0; i < 2_000; i++) {
    c.x.send(SERVER, {
      t: "all",
      id: c.nextId(),
      tok: c.tok,
      k: `p${i}`,
      pi: 0,
      pn: 64,
      text: "q".repeat(250),
    });
  }
  c.net.step();
  c.net.run(2_000);
  const long = "ü".repeat(8_000);
  c.type("userA", `send_all ${long}`);
  c.net.run(3_000);
  c.ackAll();
  assert(c.net.lines(c.addr("userB")).includes(`Group Chat userA: ${long}`));
  assert(
    !c.net.lines(c.addr("userA")).some((l) => /too (long|big)/i.test(l)),
  );
  assert((c.server.stats().dropped.partial_evicted ?? 0) > 0);
});

Deno.test("simulation: names per address are bounded; the 17th name from one socket is refused", () => {
  const server = new ServerState({ random: seededBytes(5) });
  const from = { hostname: "198.51.100.7", port: 4000 };
  const answers: Message[] = [];
  const send = (m: Message) => {
    server.receiveDatagram(encodeMessage(m), from, 0);
    for (const d of server.datagramsToSend()) {
      const r = decodeMessage(d.bytes);
      if (r.ok) answers.push(r.message);
    }
  };
  for (let i = 0; i < 20; i++) {
    send({ t: "reg", id: 2 * i, name: `n${i}` });
    const retry = answers.findLast((m) => m.t === "retry");
    assert(retry?.t === "retry");
    send({ t: "reg", id: 2 * i + 1, name: `n${i}`, ck: retry.ck });
  }
  assertEquals(server.stats().users, 16);
  assertEquals(server.stats().dropped.quota, 4);
  assertEquals(
    answers.filter((m) => m.t === "err" && m.code === "full").length,
    4,
  );
});

Deno.test("simulation: a spoofed reg flood of 10,000 sources is shed past the global budget; chat goes on", () => {
  const c = chat(["userA", "userB"], {
    limits: { unvalidatedRate: 1_000, unvalidatedBurst: 1_000 },
  });
  for (let i = 0; i < 10_000; i++) {
    c.net.inject(
      { hostname: `10.9.${i >> 8}.${i & 255}`, port: 1_000 + i },
      SERVER,
      encodeMessage({ t: "reg", id: i, name: `spoof${i}` }),
    );
  }
  c.type("userA", "send_all during the flood");
  c.net.run(2_000);
  assert(
    c.net.lines(c.addr("userB")).includes("Group Chat userA: during the flood"),
  );
  const d = c.server.stats().dropped;
  assert((d.budget ?? 0) >= 8_000, JSON.stringify(d));
  assertEquals(c.server.stats().users, 2, "no state for spoofed sources");
});

Deno.test("a part over 16 KiB in all is refused at the client too (MAX_MESSAGE_BYTES)", () => {
  const r = new Reassembler();
  const text = "a".repeat(MAX_MESSAGE_BYTES + 1);
  assertEquals(r.add("s", { k: "k", pi: 0, pn: 1, text }, 0).status, "refused");
});

Deno.test("stored delivery: a stored message whose parts were all ACKed `held` stays saved; the recipient stays Online", () => {
  const c = withAbuser(["userA"]);
  const ackAll = (r?: "held") => {
    for (const g of c.x.got.splice(0)) {
      if (g.m.t === "msg" || g.m.t === "tbl" || g.m.t === "note") {
        c.x.send(g.from, { t: "ack", id: g.m.id, ...(r ? { r } : {}) });
      }
    }
    c.net.step();
  };
  const register = () => {
    c.x.send(SERVER, { t: "reg", id: c.nextId(), name: "userX" });
    c.net.step();
    c.net.run(10);
    c.x.send(SERVER, {
      t: "reg",
      id: c.nextId(),
      name: "userX",
      ck: c.x.last("retry").ck,
    });
    c.net.step();
    c.net.run(50);
    return c.x.last("welcome").tok;
  };
  c.x.send(SERVER, { t: "dereg", id: c.nextId(), name: "userX", tok: c.tok });
  c.net.step();
  c.net.run(500);
  ackAll();
  c.type("userA", `send userX ${"kept ".repeat(300).trim()}`);
  c.net.run(1_000);
  assertEquals(c.server.stats().offlineMessages, 1);
  const a = c.addr("userA");
  const before = c.net.lines(a).length;
  // userX comes back and takes the list, but shows nothing: every part of
  // the stored message is ACKed `held`.
  const tok = register();
  const storedParts = () =>
    new Set(
      c.x.got.flatMap((g) =>
        g.m.t === "msg" && g.m.o !== undefined ? [g.m.id] : []
      ),
    ).size;
  assertEquals(storedParts(), 2, "a two-part stored message");
  ackAll("held");
  c.net.run(2_000);
  ackAll();
  c.net.run(500);
  assertEquals(c.server.stats().offlineMessages, 1, "kept: not shown");
  assertEquals(c.server.stats().dropped.held, 1);
  const notices = () =>
    c.net.lines(a).slice(before).filter((l) =>
      !l.startsWith("{") && l !== "[Client table updated.]"
    );
  assertEquals(notices(), [], "its sender is told nothing");
  const row = c.server.table.find((r) => r[0] === "userX");
  assertEquals(row?.[3], 1, "userX stays Online");
  // At the next login it is delivered again; shown this time, it is deleted
  // and its sender told.
  c.x.send(SERVER, {
    t: "dereg",
    id: c.nextId(),
    name: "userX",
    tok,
  });
  c.net.step();
  c.net.run(500);
  ackAll();
  register();
  assertEquals(storedParts(), 2);
  ackAll();
  c.net.run(1_000);
  ackAll();
  assertEquals(c.server.stats().offlineMessages, 0);
  assertEquals(notices().length, 1, notices().join("\n"));
  assert(/delivered|received/i.test(notices()[0]), notices()[0]);
});

Deno.test("stats: what the send queue shed is told with the other drops", () => {
  const stats = new ServerState({ random: seededBytes(3) }).stats();
  const quiet = withSendShed({ type: "stats", stats }, {
    answers: 0,
    bulk: 0,
    challenges: 0,
  });
  assertEquals(quiet.type === "stats" && quiet.stats.dropped, {});
  const busy = withSendShed({ type: "stats", stats }, {
    answers: 2,
    bulk: 7,
    challenges: 1,
  });
  assertEquals(busy.type === "stats" && busy.stats.dropped, {
    send_queue_answers: 2,
    send_queue_bulk: 7,
    send_queue_challenges: 1,
  });
  assertStringIncludes(
    describeServerEvent(busy).text,
    "send_queue_answers=2 send_queue_bulk=7 send_queue_challenges=1",
  );
});

Deno.test("simulation: a send_all to 80 Offline users sends its sender at most NOTICE_WINDOW notices at once, and all of them in the end", () => {
  const names = Array.from({ length: 81 }, (_, i) => `u${i}`);
  const c = chat(names);
  for (const n of names.slice(1)) c.type(n, `dereg ${n}`);
  c.net.run(2_000);
  const sender = c.addr("u0");
  // No notice reaches the sender for a while: each stays unACKed.
  const notes = new Set<number>();
  c.net.filter = ({ to, bytes }) => {
    if (to.port !== sender.port) return false;
    const d = decodeMessage(bytes);
    if (!d.ok || d.message.t !== "note") return false;
    notes.add(d.message.id);
    return true;
  };
  c.type("u0", "send_all hello");
  c.net.run(3_000);
  // Without a window all 80 went out at once (one overflow of its socket).
  assertEquals(notes.size, NOTICE_WINDOW);
  c.net.filter = undefined;
  c.net.run(30_000);
  const lines = c.net.lines(sender);
  for (const n of names.slice(1)) {
    assertEquals(
      lines.filter((l) => l === `[No ACK from ${n}, message not delivered.]`)
        .length,
      1,
      n,
    );
  }
});
