/**
 * Issue 13, "Memory that returns": after a burst and its expiry, on the
 * fake clock, what the server holds returns to its quiet values (the
 * `held` gauges of `stats`), each part forgets what expired or is full
 * again, and a map that held a peak's worth is rebuilt once it holds few.
 */
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import { RecentMap } from "../protocol/dedup.ts";
import type { Message } from "../protocol/messages.ts";
import { HashedRateLimiter, RateLimiter } from "../protocol/rate_limit.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import { shouldShrink, SHRINK_MIN_PEAK } from "../protocol/shrink.ts";
import { NameQuota } from "../server/name_quota.ts";
import { SAVE_QUOTA_WINDOW_MS, SaveQuota } from "../server/save_quota.ts";
import type { HeldGauges } from "../server/stats.ts";
import { ServerState } from "../server/state.ts";
import { withSendShed } from "../runtime/server.ts";
import { formatLine, jsonEvent } from "../runtime/output_format.ts";
import { validateJsonLine } from "./_json_schema.ts";
import { chat, clientAddr, type Node, seededBytes, SERVER } from "./_sim.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";

Deno.test("shouldShrink() rebuilds a map only after a large peak, below a quarter of it", () => {
  assertEquals(shouldShrink(0, SHRINK_MIN_PEAK - 1), false);
  assertEquals(shouldShrink(0, SHRINK_MIN_PEAK), true);
  assertEquals(shouldShrink(SHRINK_MIN_PEAK / 4, SHRINK_MIN_PEAK), false);
  assertEquals(shouldShrink(SHRINK_MIN_PEAK / 4 - 1, SHRINK_MIN_PEAK), true);
});

Deno.test("RateLimiter.sweep() forgets 10,000 sources once their buckets are full again; nothing changes for them", () => {
  const limiter = new RateLimiter({ burst: 4, rate: 100, minRate: 10 });
  for (let i = 0; i < 10_000; i++) limiter.allow(`s${i}`, 0);
  // One source spends its whole burst.
  for (let i = 0; i < 3; i++) limiter.allow("s0", 0);
  assertEquals(limiter.allow("s0", 0), false);
  assertEquals(limiter.size, 10_000);
  // Full again after burst / minRate = 0.4 s, at the slowest rate.
  assertEquals(limiter.sweepAt, 400);
  assertEquals(limiter.sweep(399), 0);
  assertEquals(limiter.sweep(400), 10_000);
  assertEquals(limiter.size, 0);
  assertEquals(limiter.sweepAt, undefined);
  // A forgotten source has its whole burst, as a full bucket would.
  assertEquals([1, 2, 3, 4, 5].map(() => limiter.allow("s0", 400)), [
    true,
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("RateLimiter.sweep() keeps a source still within its refill, least recently seen first", () => {
  const limiter = new RateLimiter({ burst: 2, rate: 10 });
  limiter.allow("old", 0);
  limiter.allow("new", 150);
  assertEquals(limiter.sweep(200), 1);
  assertEquals(limiter.size, 1);
  assertEquals(limiter.sweepAt, 350);
});

Deno.test("HashedRateLimiter.sweep() frees every bucket a flood used once they are full again", () => {
  const limiter = new HashedRateLimiter({ burst: 2, rate: 100, slots: 512 });
  for (let i = 0; i < 20_000; i++) {
    limiter.allow(`10.9.${i >> 8}.${i & 255}`, i / 10);
  }
  assertEquals(limiter.inUse, 512);
  const last = 19_999 / 10;
  assertEquals(limiter.sweepAt, last + 20);
  limiter.sweep(last + 20);
  assertEquals(limiter.inUse, 0);
  assertEquals(limiter.sweepAt, undefined);
  assertEquals(limiter.allow("10.9.0.1", last + 20), true);
  assertEquals(limiter.inUse, 1);
});

Deno.test("Reassembler.sweep() gives up 5,000 senders' partials at their expiry, with nothing more added", () => {
  const r = new Reassembler({ ttl: 10_000 });
  for (let i = 0; i < 5_000; i++) {
    r.add(`s${i}`, { k: "k", pi: 0, pn: 2, text: "é".repeat(100) }, i);
  }
  assertEquals(r.size, 5_000);
  assertEquals(r.bufferedBytes, 5_000 * 200);
  assertEquals(r.sweepAt, 10_000);
  r.sweep(12_000);
  assertEquals(r.size, 5_000 - 2_001);
  r.sweep(15_000);
  assertEquals([r.size, r.buffered, r.bufferedBytes], [0, 0, 0]);
  assertEquals(r.shed.expired, 5_000);
  assertEquals(r.sweepAt, undefined);
  // It works as before after a rebuild.
  assertEquals(r.add("s1", { k: "k", pi: 0, pn: 2, text: "a" }, 15_000), {
    status: "partial",
  });
  assertEquals(r.add("s1", { k: "k", pi: 1, pn: 2, text: "b" }, 15_000), {
    status: "complete",
    text: "ab",
  });
});

Deno.test("RecentMap.sweep() forgets 10,000 entries at their expiry without another set", () => {
  const m = new RecentMap<string, number>({ ttl: 1_000 });
  for (let i = 0; i < 10_000; i++) m.set(`k${i}`, i, i / 10);
  m.delete("k0");
  assertEquals(m.sweepAt, 1_000.1);
  m.sweep(1_500);
  assertEquals(m.size, 9_999 - 5_000);
  m.sweep(2_000);
  assertEquals(m.size, 0);
  assertEquals(m.sweepAt, undefined);
  m.set("again", 1, 2_000);
  assertEquals(m.get("again", 2_999), 1);
});

Deno.test("NameQuota gives every forgotten name's quota and memory back", () => {
  const q = new NameQuota({ namesPerAddress: 10_000, namesPerHost: 10_000 });
  const from = { hostname: "10.78.0.1", port: 4000 };
  for (let i = 0; i < 8_000; i++) q.count(`n${i}`, from);
  assertEquals(q.allows(from), true);
  for (let i = 0; i < 2_000; i++) q.count(`m${i}`, from);
  assertEquals(q.allows(from), false);
  for (let i = 0; i < 8_000; i++) q.uncount(`n${i}`);
  for (let i = 0; i < 2_000; i++) q.uncount(`m${i}`);
  assertEquals(q.size, 0);
  assertEquals(q.allows(from), true);
});

Deno.test("SaveQuota forgets the windows whose hour is over with the next save", () => {
  const q = new SaveQuota({
    savesPerSender: 1,
    savedBytesPerSender: 100,
    savesPerHost: 10_000,
    savedBytesPerHost: 1 << 20,
  });
  const one = { copies: 1, length: 1, now: 0 };
  for (let i = 0; i < 5_000; i++) {
    q.charge({
      name: `n${i}`,
      from: { hostname: `10.8.${i >> 8}.${i & 255}`, port: 1 },
    }, one);
  }
  assertEquals(q.size, 10_000);
  const from = { hostname: "10.8.0.1", port: 1 };
  assertEquals(q.charge({ name: "n1", from }, one), "sender");
  const later = { ...one, now: SAVE_QUOTA_WINDOW_MS };
  assertEquals(q.charge({ name: "n1", from }, later), undefined);
  assertEquals(q.size, 2, "only the new windows are left");
});

/** A registered client played by hand (it ACKs nothing unless told). */
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

const QUIET: HeldGauges = {
  partials: 0,
  partialBytes: 0,
  noticesQueued: 0,
  noticesHeld: 0,
  deliveries: 0,
  responseCache: 0,
  provenSources: 0,
  unprovenBuckets: 0,
};

/**
 * userA and userB, then ten abusers each holding two first parts of a
 * 64-part group message, and a spoofed `reg` flood of 3,000 sources.
 */
function attacked() {
  const c = chat(["userA", "userB"]);
  const abusers: { x: Raw; addr: Address }[] = [];
  let id = 1;
  for (let a = 0; a < 10; a++) {
    const x = new Raw();
    const addr = clientAddr(50 + a);
    c.net.add(addr, x);
    x.send(SERVER, { t: "reg", id: ++id, name: `abuser${a}` });
    c.net.step();
    c.net.run(10);
    x.send(SERVER, {
      t: "reg",
      id: ++id,
      name: `abuser${a}`,
      ck: x.last("retry").ck,
    });
    c.net.step();
    c.net.run(10);
    const tok = x.last("welcome").tok;
    for (let k = 0; k < 3; k++) {
      x.send(SERVER, {
        t: "all",
        id: ++id,
        tok,
        k: `poison${k}`,
        pi: 0,
        pn: 64,
        text: "p".repeat(900),
      });
    }
    c.net.step();
    abusers.push({ x, addr });
  }
  for (let i = 0; i < 3_000; i++) {
    c.net.inject(
      { hostname: `10.9.${i >> 8}.${i & 255}`, port: 1_000 + i },
      SERVER,
      encodeMessage({ t: "reg", id: i, name: `spoof${i}` }),
    );
  }
  c.net.run(50);
  return { ...c, abusers };
}

Deno.test("simulation: after partials and a spoofed flood, the held gauges of stats return to their quiet values", () => {
  const c = attacked();
  const during = c.server.stats().held!;
  assertEquals(during.partials, 20, "two per abuser (the third evicted one)");
  assertEquals(during.partialBytes, 20 * 900);
  assert(during.unprovenBuckets > 0, JSON.stringify(during));
  assert(during.responseCache > 0, JSON.stringify(during));
  assert(during.provenSources >= 10, JSON.stringify(during));
  // The abusers vanish; userA and userB stay, quiet.
  for (const { addr } of c.abusers) c.net.remove(addr);
  c.type("userA", "send_all still here");
  c.net.run(40_000);
  assert(
    c.net.lines(c.addr("userB")).includes("Group Chat userA: still here"),
  );
  const after = c.server.stats();
  const { sendQueue: _, ...held } = after.held!;
  // The live clients' keepalives keep their rate-limit buckets fresh.
  assertEquals(
    { ...held, provenSources: 0 },
    QUIET,
    JSON.stringify(after),
  );
  assert(held.provenSources <= 2, JSON.stringify(held));
  assertEquals(after.dropped.partial_evicted, 10);
  assertStringIncludes(
    describeServerEvent({ type: "stats", stats: after }).text,
    " held: partials=0 partial_bytes=0 notices_queued=0 notices_held=0 deliveries=0 response_cache=0",
  );
});

Deno.test("simulation: with no traffic at all after the attack, the server's own timer gives the partials back", () => {
  const c = attacked();
  assertEquals(c.server.stats().held!.partials, 20);
  // Everyone vanishes: only the server's timer runs from now on.
  for (const { addr } of c.abusers) c.net.remove(addr);
  c.net.remove(c.addr("userA"));
  c.net.remove(c.addr("userB"));
  c.net.run(11_000);
  const held = c.server.stats().held!;
  assertEquals([held.partials, held.partialBytes], [0, 0]);
});

Deno.test("stats: the held gauges print after the counters, with the runtime's send queue, and match the --json schema", () => {
  const stats = new ServerState({ random: seededBytes(5) }).stats();
  assertEquals(stats.held, QUIET);
  const event = withSendShed({ type: "stats", stats }, undefined, {
    queued: 7,
  });
  const line = describeServerEvent(event);
  assertEquals(
    line.text,
    "[Stats: users=0 online=0 offline_messages=0 pending=0 in=0 out=0 bytes_in=0 bytes_out=0 retransmitted=0 held: partials=0 partial_bytes=0 notices_queued=0 notices_held=0 deliveries=0 response_cache=0 proven_sources=0 unproven_buckets=0 send_queue=7 dropped: none]",
  );
  assertEquals(line.data?.held, { ...QUIET, sendQueue: 7 });
  const json = formatLine(jsonEvent(line, new Date()), { json: true });
  assertEquals(validateJsonLine(json), [], json);
  // Without a runtime (a core's own snapshot), no send queue.
  const core = describeServerEvent({ type: "stats", stats });
  assertEquals(core.data?.held, QUIET);
});
