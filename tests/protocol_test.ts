/**
 * Unit tests of the protocol modules, each on its own and with explicit
 * times: the codec, retransmission, duplicate memory, reassembly, rate
 * limiting, cookies, the printed table and the splitting of text.
 */
import {
  decodeMessage,
  encodeMessage,
  isValidName,
  MESSAGE_TYPES,
} from "../protocol/codec.ts";
import {
  MAX_CHUNK_BYTES,
  MAX_DATAGRAM_BYTES,
  MAX_MESSAGE_BYTES,
} from "../protocol/constants.ts";
import { checkCookie, makeCookie } from "../protocol/cookie.ts";
import { RecentMap } from "../protocol/dedup.ts";
import type { Message, Row } from "../protocol/messages.ts";
import { RateLimiter } from "../protocol/rate_limit.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import {
  chunkEncodedRows,
  encodeRow,
  encodeTablePart,
  formatTable,
  summarizeTable,
} from "../protocol/table.ts";
import { fitsMessageLimit, splitText, utf8Length } from "../protocol/text.ts";
import { clockOf, formatStamp } from "../protocol/time.ts";
import { addressKey, sameAddress } from "../protocol/address.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { prng } from "./_sim.ts";

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const json = (o: unknown): Uint8Array => bytes(JSON.stringify(o));

function reason(b: Uint8Array): string {
  const r = decodeMessage(b);
  return r.ok ? "ok" : r.reason;
}

// ---------------------------------------------------------------------------
// codec
// ---------------------------------------------------------------------------

const SAMPLES: Message[] = [
  { t: "reg", id: 1, name: "userA" },
  { t: "reg", id: 2, name: "userA", ck: "c".repeat(22), tok: "a".repeat(32) },
  { t: "dereg", id: 3, name: "userA", tok: "f".repeat(32) },
  {
    t: "all",
    id: 4,
    tok: "f".repeat(32),
    k: "userA:abc:1",
    pi: 0,
    pn: 2,
    text: 'hi "there" \\ é 👋',
  },
  {
    t: "save",
    id: 5,
    tok: "f".repeat(32),
    to: "userB",
    k: "userA:abc:2",
    pi: 1,
    pn: 2,
    text: "second part",
  },
  { t: "sync", id: 6, tok: "f".repeat(32) },
  { t: "ka", id: 7, tok: "f".repeat(32) },
  { t: "ack", id: 8, boot: "0123456789abcdef" },
  { t: "err", id: 9, code: "not_registered", boot: "0123456789abcdef" },
  { t: "err", id: 10, code: "store_unavailable" },
  { t: "ack", id: 7 },
  { t: "ack", id: 8, r: "saved", at: "2023-10-21 02:14:41" },
  { t: "ack", id: 9, r: "pending" },
  { t: "retry", id: 10, ck: "x".repeat(22) },
  { t: "welcome", id: 11, tok: "0".repeat(32), off: 0 },
  { t: "welcome", id: 12, tok: "0".repeat(32), off: 3, o0: 7 },
  { t: "welcome", id: 13, tok: "0".repeat(32), off: 0, boot: "00ff" },
  { t: "err", id: 13, code: "not_registered" },
  { t: "err", id: 14, code: "unknown_user", name: "nobody" },
  { t: "err", id: 15, code: "name_in_use", name: "userB" },
  { t: "err", id: 16, code: "bad_name" },
  { t: "err", id: 17, code: "full" },
  { t: "err", id: 18, code: "too_big" },
  { t: "err", id: 19, code: "offline" },
  {
    t: "tbl",
    id: 20,
    ver: 3,
    i: 0,
    n: 1,
    rows: [["userA", "127.0.0.1", 6000, 1], ["userB", "::1", 6001, 0]],
  },
  { t: "tbl", id: 21, ver: 4, from: 3, rows: [["userB", "::1", 6001, 1]] },
  { t: "tbl", id: 22, ver: 5, from: 4, i: 1, n: 2, rows: [] },
  {
    t: "msg",
    id: 23,
    from: "userA",
    g: 0,
    k: "userA:abc:3",
    pi: 0,
    pn: 1,
    text: "hi",
  },
  {
    t: "msg",
    id: 24,
    from: "userC",
    g: 1,
    k: "userC:abc:4",
    pi: 0,
    pn: 1,
    text: "group",
    at: "2023-11-09 03:31:59",
    o: 2,
  },
  {
    t: "note",
    id: 25,
    k: "noack",
    name: "userD",
    ref: "userA:abc:5",
    at: "2023-10-21 02:55:38",
  },
  {
    t: "note",
    id: 26,
    k: "saved",
    name: "userD",
    ref: "r",
    at: "2023-10-21 02:55:38",
  },
  { t: "note", id: 27, k: "rcv", name: "userD", ref: "r" },
  {
    t: "note",
    id: 28,
    k: "dlv",
    name: "userD",
    ref: "r",
    at: "2023-10-21 02:55:38",
  },
  { t: "note", id: 29, k: "refused", name: "userD", ref: "r" },
  { t: "note", id: 30, k: "done", name: "userA", ref: "r" },
  { t: "ping", id: 31 },
  { t: "who", id: 32, tok: "0123456789abcdef0123456789abcdef", name: "userB" },
  { t: "ack", id: 33, rows: [["userB", "127.0.0.1", 6001, 1]] },
  { t: "sum", id: 34, ver: 7, u: 40, on: 39, rows: [] },
  {
    t: "sum",
    id: 35,
    ver: 8,
    u: 40,
    on: 39,
    full: 1,
    rows: [["userB", "127.0.0.1", 6001, 0]],
    more: 3,
    w: [["userC", "::1", 6002, 1]],
  },
];

Deno.test("encodeMessage() and decodeMessage() round-trip every message type with and without optional fields", () => {
  const seen = new Set<string>();
  for (const m of SAMPLES) {
    const b = encodeMessage(m);
    assert(b.length <= MAX_DATAGRAM_BYTES);
    assertEquals(JSON.parse(new TextDecoder().decode(b)).v, 1);
    assertEquals(decodeMessage(b), { ok: true, message: m }, JSON.stringify(m));
    seen.add(m.t);
  }
  assertEquals([...seen].sort(), [...MESSAGE_TYPES].sort());
});

Deno.test("decodeMessage() checks the size before anything else: 1,200 bytes pass, 1,201 are oversize", () => {
  const head = '{"v":1,"t":"ack","id":1,"pad":"';
  const tail = '"}';
  const fill = (n: number) =>
    head + "x".repeat(n - head.length - tail.length) + tail;
  assertEquals(bytes(fill(1200)).length, 1200);
  assertEquals(decodeMessage(bytes(fill(1200))), {
    ok: true,
    message: { t: "ack", id: 1 },
  });
  assertEquals(reason(bytes(fill(1201))), "oversize");
  // Oversize wins over every other fault.
  const junk = new Uint8Array(1201).fill(0xff);
  assertEquals(reason(junk), "oversize");
  assertEquals(reason(new Uint8Array(65507)), "oversize");
});

Deno.test("decodeMessage() rejects invalid UTF-8", () => {
  const cases = [
    [0xff],
    [0xfe, 0xff],
    [0xc0, 0x80], // overlong NUL
    [0xed, 0xa0, 0x80], // an encoded surrogate
    [0xe2, 0x82], // truncated
    [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
  ];
  for (const c of cases) {
    // Wrap the bad bytes inside an otherwise valid message.
    const pre = bytes('{"v":1,"t":"ack","id":1,"x":"');
    const post = bytes('"}');
    const b = new Uint8Array([...pre, ...c, ...post]);
    assertEquals(reason(b), "utf8", JSON.stringify(c));
    assertEquals(reason(new Uint8Array(c)), "utf8");
  }
});

Deno.test("decodeMessage() rejects what is not a JSON object", () => {
  for (
    const s of [
      "",
      "not json",
      "{",
      '{"v":1,"t":"ack","id":1',
      "[]",
      '[{"v":1,"t":"ack","id":1}]',
      "null",
      "42",
      '"a string"',
      "true",
      "{'v':1}",
      '{"v":1,"t":"ack","id":1}{}',
    ]
  ) {
    assertEquals(reason(bytes(s)), "json", s);
  }
});

Deno.test("decodeMessage() rejects any version but 1", () => {
  for (const v of [0, 2, "1", null, true, 1.5, -1, [1]]) {
    assertEquals(reason(json({ v, t: "ack", id: 1 })), "version", String(v));
  }
  assertEquals(reason(json({ t: "ack", id: 1 })), "version");
  assertEquals(reason(bytes('{"v":1.0,"t":"ack","id":1}')), "ok");
});

Deno.test("decodeMessage() rejects unknown types", () => {
  for (const t of ["nope", "ACK", "", "__proto__", "constructor", 5, null]) {
    assertEquals(reason(json({ v: 1, t, id: 1 })), "type", String(t));
  }
  assertEquals(reason(json({ v: 1, id: 1 })), "type");
  // Unknown type without an id is still a type error.
  assertEquals(reason(json({ v: 1, t: "nope" })), "type");
});

Deno.test("decodeMessage() rejects wrong, missing and out-of-range fields", () => {
  const tok = "f".repeat(32);
  const part = { k: "k1", pi: 0, pn: 1, text: "hi" };
  const bad: Record<string, unknown>[] = [
    // ids
    { t: "ack" },
    { t: "ack", id: "1" },
    { t: "ack", id: -1 },
    { t: "ack", id: 1.5 },
    { t: "ack", id: 2 ** 53 },
    { t: "ack", id: 1e308 },
    { t: "ack", id: null },
    { t: "ack", id: [1] },
    // reg / dereg
    { t: "reg", id: 1 },
    { t: "reg", id: 1, name: 5 },
    { t: "reg", id: 1, name: "" },
    { t: "reg", id: 1, name: "a".repeat(33) },
    { t: "reg", id: 1, name: "user A" },
    { t: "reg", id: 1, name: "user\u0000A" },
    { t: "reg", id: 1, name: "user\u0007" },
    { t: "reg", id: 1, name: "user\nA" },
    { t: "reg", id: 1, name: "user\u007f" },
    { t: "reg", id: 1, name: "it's" },
    { t: "reg", id: 1, name: 'a"b' },
    { t: "reg", id: 1, name: "a/b" },
    { t: "reg", id: 1, name: "userA", ck: 5 },
    { t: "reg", id: 1, name: "userA", tok: "x".repeat(65) },
    { t: "dereg", id: 1, name: "userA" },
    { t: "dereg", id: 1, name: "userA", tok: 1 },
    // parts
    { t: "all", id: 1, tok, ...part, text: 5 },
    { t: "all", id: 1, tok, ...part, text: "x".repeat(MAX_CHUNK_BYTES + 1) },
    { t: "all", id: 1, tok, ...part, pi: 1, pn: 1 },
    { t: "all", id: 1, tok, ...part, pn: 0 },
    { t: "all", id: 1, tok, ...part, pn: 65 },
    { t: "all", id: 1, tok, ...part, pi: -1 },
    { t: "all", id: 1, tok, ...part, k: "" },
    { t: "all", id: 1, tok, ...part, k: "k".repeat(81) },
    { t: "all", id: 1, ...part },
    { t: "save", id: 1, tok, ...part },
    { t: "save", id: 1, tok, to: "bad name", ...part },
    { t: "sync", id: 1 },
    // ack
    { t: "ack", id: 1, r: "maybe" },
    { t: "ack", id: 1, at: "yesterday" },
    { t: "ack", id: 1, at: "2023-10-21T02:14:41" },
    // retry / welcome / err
    { t: "retry", id: 1 },
    { t: "welcome", id: 1, tok },
    { t: "welcome", id: 1, tok, off: -1 },
    { t: "welcome", id: 1, tok, off: 1, o0: "1" },
    { t: "err", id: 1, code: "whatever" },
    { t: "err", id: 1 },
    { t: "err", id: 1, code: "full", name: "a b" },
    // tbl
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1 },
    { t: "tbl", id: 1, ver: 1, rows: [] }, // a snapshot must say which part
    { t: "tbl", id: 1, ver: 1, i: 0, rows: [] },
    { t: "tbl", id: 1, ver: 1, i: 1, n: 1, rows: [] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 0, rows: [] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1, rows: [["a", "h", 1]] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1, rows: [["a", "h", 65536, 1]] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1, rows: [["a", "h", 1, 2]] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1, rows: [["a", "", 1, 1]] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1, rows: [["a b", "h", 1, 1]] },
    { t: "tbl", id: 1, ver: 1, i: 0, n: 1, rows: "x" },
    {
      t: "tbl",
      id: 1,
      ver: 1,
      i: 0,
      n: 1,
      rows: Array.from({ length: 65 }, (_, i) => [`u${i}`, "h", 1, 1]),
    },
    // msg
    { t: "msg", id: 1, g: 0, ...part },
    { t: "msg", id: 1, from: "a", g: 2, ...part },
    { t: "msg", id: 1, from: "a", g: 0, ...part, at: "2023-10-21 02:14:41" },
    { t: "msg", id: 1, from: "a", g: 0, ...part, o: 1 },
    // note
    { t: "note", id: 1, k: "bogus", name: "a", ref: "r" },
    { t: "note", id: 1, k: "rcv", ref: "r" },
    { t: "note", id: 1, k: "rcv", name: "a" },
    { t: "note", id: 1, k: "dlv", name: "a", ref: "r", at: "02:14:41" },
  ];
  for (const o of bad) {
    assertEquals(reason(json({ v: 1, ...o })), "field", JSON.stringify(o));
  }
});

Deno.test("decodeMessage() reads huge and negative-zero numbers safely", () => {
  assertEquals(
    reason(bytes('{"v":1,"t":"ack","id":9007199254740993}')),
    "field",
  );
  assertEquals(reason(bytes('{"v":1,"t":"ack","id":1e400}')), "field");
  assertEquals(reason(bytes('{"v":1,"t":"ack","id":-1e400}')), "field");
  assertEquals(
    decodeMessage(bytes('{"v":1,"t":"ack","id":9007199254740991}')),
    { ok: true, message: { t: "ack", id: Number.MAX_SAFE_INTEGER } },
  );
  const r = decodeMessage(bytes('{"v":1,"t":"ack","id":-0}'));
  assert(r.ok);
  assert(Object.is(r.message.id, 0), "-0 reads as 0");
  assertEquals(
    reason(bytes('{"v":1,"t":"welcome","id":1,"tok":"t","off":1e20}')),
    "field",
  );
});

Deno.test("decodeMessage() keeps only the known fields and touches no prototype", () => {
  const r = decodeMessage(
    bytes(
      '{"v":1,"t":"reg","id":1,"name":"userA","extra":1,"__proto__":{"polluted":1},"constructor":{"x":1}}',
    ),
  );
  assertEquals(r, { ok: true, message: { t: "reg", id: 1, name: "userA" } });
  assert(r.ok);
  assertEquals(Object.keys(r.message).sort(), ["id", "name", "t"]);
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
  assertEquals(Object.getPrototypeOf(r.message), Object.prototype);
});

Deno.test("decodeMessage() never throws on random bytes or mutated datagrams", () => {
  const rnd = prng(42);
  const samples = SAMPLES.map(encodeMessage);
  for (let i = 0; i < 5000; i++) {
    let b: Uint8Array;
    if (i % 2 === 0) {
      b = Uint8Array.from(
        { length: Math.floor(rnd() * 64) },
        () => Math.floor(rnd() * 256),
      );
    } else {
      b = samples[i % samples.length].slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) {
        b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      }
    }
    const r = decodeMessage(b);
    assert(r.ok === true || typeof r.reason === "string");
  }
});

Deno.test("isValidName() allows Unicode letters and digits, nothing else", () => {
  for (const n of ["userA", "ü", "用户", "a.b-c_d", "x".repeat(32), "0"]) {
    assert(isValidName(n), n);
  }
  for (
    const n of [
      "",
      "x".repeat(33),
      "a b",
      "a\tb",
      "a\u0000",
      "a\u001b[31m",
      "'",
      '"',
      "👋",
      "a:b",
    ]
  ) {
    assert(!isValidName(n), JSON.stringify(n));
  }
});

Deno.test("addressKey() and sameAddress() key and compare endpoints", () => {
  assertEquals(
    addressKey({ hostname: "127.0.0.1", port: 6000 }),
    "127.0.0.1:6000",
  );
  assertEquals(addressKey({ hostname: "::1", port: 6000 }), "[::1]:6000");
  assert(sameAddress({ hostname: "h", port: 1 }, { hostname: "h", port: 1 }));
  assert(!sameAddress({ hostname: "h", port: 1 }, { hostname: "h", port: 2 }));
  assert(!sameAddress({ hostname: "h", port: 1 }, { hostname: "g", port: 1 }));
});

// ---------------------------------------------------------------------------
// dedup.ts
// ---------------------------------------------------------------------------

Deno.test("RecentMap.get() forgets entries after their lifetime (30 s by default)", () => {
  const m = new RecentMap<string, number>();
  m.set("a", 1, 0);
  assert(m.has("a", 29_999));
  assertEquals(m.get("a", 29_999), 1);
  assert(!m.has("a", 30_000));
  const short = new RecentMap<string, number>({ ttl: 10 });
  short.set("x", 5, 100);
  assertEquals(short.get("x", 109), 5);
  assertEquals(short.get("x", 110), undefined);
  short.set("x", 6, 110); // set again: lives again
  assertEquals(short.get("x", 115), 6);
});

Deno.test("RecentMap.set() is bounded: the oldest go first", () => {
  const m = new RecentMap<number, true>({ ttl: 1000, capacity: 3 });
  for (let i = 0; i < 5; i++) m.set(i, true, i);
  assertEquals(m.size, 3);
  assertEquals([0, 1, 2, 3, 4].map((i) => m.has(i, 10)), [
    false,
    false,
    true,
    true,
    true,
  ]);
  // Setting an existing key refreshes its place.
  m.set(2, true, 11);
  m.set(5, true, 12);
  assertEquals([2, 3, 4, 5].map((i) => m.has(i, 13)), [
    true,
    false,
    true,
    true,
  ]);
  m.delete(2);
  assert(!m.has(2, 13));
});

Deno.test("RecentMap.set() purges expired entries as new ones come", () => {
  const m = new RecentMap<number, true>({ ttl: 10 });
  for (let i = 0; i < 100; i++) m.set(i, true, 0);
  m.set(1000, true, 50);
  assertEquals(m.size, 1);
});

// ---------------------------------------------------------------------------
// reassembly.ts
// ---------------------------------------------------------------------------

Deno.test("Reassembler.add() completes one part at once at once; parts complete in any order", () => {
  const r = new Reassembler();
  assertEquals(r.add("s", { k: "a", pi: 0, pn: 1, text: "whole" }, 0), {
    status: "complete",
    text: "whole",
  });
  assertEquals(
    r.add("s", { k: "b", pi: 2, pn: 3, text: "C" }, 0).status,
    "partial",
  );
  assertEquals(
    r.add("s", { k: "b", pi: 0, pn: 3, text: "A" }, 0).status,
    "partial",
  );
  assertEquals(r.buffered, 2);
  assertEquals(r.add("s", { k: "b", pi: 1, pn: 3, text: "B" }, 0), {
    status: "complete",
    text: "ABC",
  });
  assertEquals(r.buffered, 0);
});

Deno.test("Reassembler.add() ignores a repeated part, a conflicting count refused", () => {
  const r = new Reassembler();
  assertEquals(
    r.add("s", { k: "m", pi: 0, pn: 2, text: "x" }, 0).status,
    "partial",
  );
  assertEquals(
    r.add("s", { k: "m", pi: 0, pn: 2, text: "EVIL" }, 0).status,
    "partial",
  );
  assertEquals(r.buffered, 1);
  assertEquals(
    r.add("s", { k: "m", pi: 1, pn: 3, text: "y" }, 0).status,
    "refused",
  );
  assertEquals(r.add("s", { k: "m", pi: 1, pn: 2, text: "y" }, 0), {
    status: "complete",
    text: "xy",
  });
});

Deno.test("Reassembler.add() keys by source: two sources never mix", () => {
  const r = new Reassembler();
  r.add("alice", { k: "same", pi: 0, pn: 2, text: "A0" }, 0);
  r.add("bob", { k: "same", pi: 1, pn: 2, text: "B1" }, 0);
  assertEquals(r.add("alice", { k: "same", pi: 1, pn: 2, text: "A1" }, 0), {
    status: "complete",
    text: "A0A1",
  });
  assertEquals(r.add("bob", { k: "same", pi: 0, pn: 2, text: "B0" }, 0), {
    status: "complete",
    text: "B0B1",
  });
});

Deno.test("Reassembler.add() bounds memory and expires incomplete messages", () => {
  const r = new Reassembler({ maxBuffered: 10, ttl: 100 });
  assertEquals(
    r.add("s", { k: "a", pi: 0, pn: 2, text: "12345678" }, 0).status,
    "partial",
  );
  assertEquals(
    r.add("s", { k: "b", pi: 0, pn: 2, text: "123" }, 0).status,
    "refused",
  );
  assertEquals(r.buffered, 8);
  // After the lifetime, the incomplete message is gone and its memory freed.
  assertEquals(
    r.add("s", { k: "b", pi: 0, pn: 2, text: "123" }, 100).status,
    "partial",
  );
  assertEquals(r.buffered, 3);
  assertEquals(
    r.add("s", { k: "a", pi: 1, pn: 2, text: "9" }, 100).status,
    "partial",
  );
});

// ---------------------------------------------------------------------------
// rate_limit.ts
// ---------------------------------------------------------------------------

Deno.test("RateLimiter.allow() allows a burst, then its rate, per source", () => {
  const l = new RateLimiter({ burst: 3, rate: 10 });
  assertEquals([0, 0, 0, 0].map((t) => l.allow("a", t)), [
    true,
    true,
    true,
    false,
  ]);
  assert(l.allow("b", 0), "another source has its own bucket");
  assert(!l.allow("a", 99), "0.99 token after 99 ms");
  assert(l.allow("a", 100));
  assert(!l.allow("a", 100));
  // Refill is capped at the burst.
  assertEquals(
    [0, 0, 0, 0].map(() => l.allow("a", 100_000)),
    [true, true, true, false],
  );
});

Deno.test("RateLimiter.allow() defaults: 100 at once, then 400/s", () => {
  const l = new RateLimiter();
  let ok = 0;
  for (let i = 0; i < 150; i++) if (l.allow("a", 0)) ok++;
  assertEquals(ok, 100);
  ok = 0;
  for (let i = 0; i < 150; i++) if (l.allow("a", 100)) ok++;
  assertEquals(ok, 40);
});

Deno.test("RateLimiter.allow() forgets the least recently seen source when full", () => {
  const l = new RateLimiter({ burst: 1, rate: 0.001, maxSources: 2 });
  assert(l.allow("a", 0));
  assert(!l.allow("a", 0));
  assert(l.allow("b", 0));
  assert(l.allow("c", 0)); // "a" forgotten
  assert(l.allow("a", 0), "a forgotten source starts with a fresh burst");
  assert(!l.allow("c", 0), "c was kept");
});

Deno.test("RateLimiter.allow() ignores time going backwards", () => {
  const l = new RateLimiter({ burst: 1, rate: 1000 });
  assert(l.allow("a", 1000));
  assert(!l.allow("a", 0));
});

// ---------------------------------------------------------------------------
// cookie.ts
// ---------------------------------------------------------------------------

Deno.test("makeCookie() and checkCookie() prove an address for this minute and the last one only", () => {
  const key = new Uint8Array(32).fill(7);
  const a = { hostname: "127.0.0.1", port: 6000 };
  const ck = makeCookie(key, a, { now: 60_000 });
  assertEquals(ck.length, 22);
  assertMatch(ck, /^[A-Za-z0-9_-]{22}$/);
  assertEquals(
    makeCookie(key, a, { now: 119_999 }),
    ck,
    "same minute, same cookie",
  );
  assert(checkCookie(key, a, { cookie: ck, now: 60_000 }));
  assert(checkCookie(key, a, { cookie: ck, now: 179_999 }));
  assert(!checkCookie(key, a, { cookie: ck, now: 180_000 }));
  assert(
    !checkCookie(key, a, { cookie: ck, now: 59_999 }),
    "not from the future",
  );
  assert(!checkCookie(key, { ...a, port: 6001 }, { cookie: ck, now: 60_000 }));
  assert(
    !checkCookie(key, { ...a, hostname: "10.0.0.1" }, {
      cookie: ck,
      now: 60_000,
    }),
  );
  assert(!checkCookie(new Uint8Array(32), a, { cookie: ck, now: 60_000 }));
  assert(!checkCookie(key, a, { cookie: "", now: 60_000 }));
  const other = (ck[0] === "A" ? "B" : "A") + ck.slice(1);
  assert(!checkCookie(key, a, { cookie: other, now: 60_000 }));
});

// ---------------------------------------------------------------------------
// table.ts
// ---------------------------------------------------------------------------

Deno.test("formatTable() prints exactly like the seed", () => {
  assertEquals(
    formatTable([["userA", "127.0.0.1", 6000, 1]]),
    "{'userA': ['127.0.0.1', 6000, 'Online']}",
  );
  assertEquals(
    formatTable([
      ["userA", "127.0.0.1", 6000, 0],
      ["userD", "127.0.0.1", 6003, 1],
    ]),
    "{'userA': ['127.0.0.1', 6000, 'Offline'], 'userD': ['127.0.0.1', 6003, 'Online']}",
  );
  assertEquals(formatTable([]), "{}");
  // Registration order is kept, not sorted.
  assertEquals(
    formatTable([["zed", "::1", 1, 1], ["amy", "10.0.0.2", 65535, 0]]),
    "{'zed': ['::1', 1, 'Online'], 'amy': ['10.0.0.2', 65535, 'Offline']}",
  );
  assertEquals(formatTable([["ü", "h", 2, 1]]), "{'ü': ['h', 2, 'Online']}");
});

Deno.test("formatTable() quotes like Python's repr", () => {
  assertEquals(
    formatTable([["it's", "h", 1, 1]]),
    `{"it's": ['h', 1, 'Online']}`,
  );
  assertEquals(
    formatTable([[`a'b"c`, "h", 1, 1]]),
    `{'a\\'b"c': ['h', 1, 'Online']}`,
  );
  assertEquals(
    formatTable([["a\\b", "h", 1, 1]]),
    `{'a\\\\b': ['h', 1, 'Online']}`,
  );
});

Deno.test("summarizeTable() counts and names what changed", () => {
  const rows: Row[] = Array.from(
    { length: 40 },
    (_, i) => [`u${i}`, "h", i, i % 4 === 0 ? 0 : 1],
  );
  assertEquals(
    summarizeTable(rows, rows),
    "{40 users: 30 Online, 10 Offline; full table}",
  );
  assertEquals(
    summarizeTable(rows, [rows[0], rows[1]]),
    "{40 users: 30 Online, 10 Offline; changed: u0 Offline, u1 Online}",
  );
  assertEquals(
    summarizeTable(rows, rows.slice(0, 8)),
    "{40 users: 30 Online, 10 Offline; changed: u0 Offline, u1 Online, u2 Online, u3 Online, u4 Offline (+3 more)}",
  );
});

Deno.test("chunkEncodedRows() chunks table rows under 1,200 bytes a datagram and 64 rows", () => {
  const rows = Array.from(
    { length: 500 },
    (_, i) =>
      encodeRow([
        `u${"x".repeat(i % 27)}${i}`,
        "255.255.255.255",
        65535,
        1,
      ]),
  );
  const chunks = chunkEncodedRows(rows);
  assertEquals(chunks.flat().length, 500);
  assertEquals(chunks.flat(), rows.map((r) => r.json));
  chunks.forEach((c, i) => {
    assert(c.length <= 64);
    const b = encodeTablePart(
      {
        id: Number.MAX_SAFE_INTEGER,
        ver: Number.MAX_SAFE_INTEGER,
        from: Number.MAX_SAFE_INTEGER,
        i,
        n: chunks.length,
      },
      c,
    );
    assert(b.length <= MAX_DATAGRAM_BYTES, `chunk ${i}: ${b.length} bytes`);
    const d = decodeMessage(b);
    assert(d.ok && d.message.t === "tbl" && d.message.rows.length === c.length);
  });
  assertEquals(chunkEncodedRows([]), [[]]);
  // 64 rows per datagram at most, even when tiny.
  const tiny = Array.from(
    { length: 130 },
    (_, i) => encodeRow([`${i}`, "h", 1, 1]),
  );
  assertEquals(chunkEncodedRows(tiny).map((c) => c.length), [64, 64, 2]);
});

Deno.test("encodeTablePart() makes the same bytes as encodeMessage", () => {
  const rows: Row[] = [["userA", "127.0.0.1", 6000, 1], ['q"\\', "::1", 1, 0]];
  const enc1 = encodeTablePart(
    { id: 3, ver: 9, from: 8 },
    rows.map((r) => encodeRow(r).json),
  );
  assertEquals(enc1, encodeMessage({ t: "tbl", id: 3, ver: 9, from: 8, rows }));
  const enc2 = encodeTablePart(
    { id: 3, ver: 9, i: 0, n: 2 },
    rows.map((r) => encodeRow(r).json),
  );
  assertEquals(
    enc2,
    encodeMessage({ t: "tbl", id: 3, ver: 9, i: 0, n: 2, rows }),
  );
  assertEquals(encodeRow(rows[0]).size, bytes(JSON.stringify(rows[0])).length);
});

// ---------------------------------------------------------------------------
// text.ts
// ---------------------------------------------------------------------------

const POOL = [
  "a",
  "Z",
  " ",
  "é",
  "ß",
  "中",
  "文",
  "👋",
  "🏳️‍🌈",
  "👨‍👩‍👧",
  "\u{1F600}",
  "𝄞",
  '"',
  "\\",
  "\n",
  "\t",
  "\u0000",
  "\u001f",
  "\u007f",
  "\u2028",
  "\uFEFF",
  "e\u0301",
];

function randomText(rnd: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.1) {
      s += String.fromCodePoint(0x20 + Math.floor(rnd() * 0x10ff00) % 0xd7e0);
    } else {
      s += POOL[Math.floor(rnd() * POOL.length)];
    }
  }
  return s;
}

// Bytes a part takes inside a JSON string literal (without the quotes).
function jsonBytes(s: string): number {
  return bytes(JSON.stringify(s)).length - 2;
}

Deno.test("splitText() never exceeds its budget and joins back for random Unicode and emoji", () => {
  const rnd = prng(2024);
  for (let round = 0; round < 300; round++) {
    const text = randomText(rnd, Math.floor(rnd() * 3000));
    const budget = [MAX_CHUNK_BYTES, 900, 64, 7, 6, 12][round % 6];
    const parts = splitText(text, { maxBytes: budget });
    assert(parts.length >= 1);
    assertEquals(parts.join(""), text, `round ${round}`);
    for (const p of parts) {
      assert(
        jsonBytes(p) <= budget,
        `part of ${jsonBytes(p)} bytes > ${budget}`,
      );
      // Never inside a code point: no lone surrogate at either end.
      assert(!/^[\uDC00-\uDFFF]/.test(p) && !/[\uD800-\uDBFF]$/.test(p));
      if (parts.length > 1) assert(p !== "", "no empty parts");
    }
  }
});

Deno.test("splitText() with the default budget fills parts, empty text is one empty part", () => {
  assertEquals(splitText(""), [""]);
  assertEquals(splitText("abc"), ["abc"]);
  const parts = splitText("x".repeat(2000));
  assertEquals(parts.map((p) => p.length), [900, 900, 200]);
  const emoji = splitText("👋".repeat(500)); // 4 bytes each: 225 a part
  assertEquals(emoji.map((p) => [...p].length), [225, 225, 50]);
  assertEquals(splitText('""', { maxBytes: 3 }), ['"', '"']);
  assertEquals(splitText("\u0001\u0002", { maxBytes: 6 }), [
    "\u0001",
    "\u0002",
  ]);
  // Control characters cost 6 bytes (\uXXXX), quotes and backslashes 2.
  assertEquals(splitText("\t".repeat(300)).map((p) => p.length), [150, 150]);
  assertEquals(splitText('"'.repeat(900)).map((p) => p.length), [450, 450]);
  // Any 16 KiB of text without control characters fits the 64-part limit.
  assert(splitText("\\".repeat(MAX_MESSAGE_BYTES)).length <= 64);
  assert(splitText("👋".repeat(MAX_MESSAGE_BYTES / 4)).length <= 64);
});

Deno.test("splitText() replaces lone surrogates with U+FFFD", () => {
  assertEquals(splitText("a\uD800b\uDC00"), ["a\uFFFDb\uFFFD"]);
});

Deno.test("utf8Length() and fitsMessageLimit() agree with TextEncoder at the 16 KiB boundary", () => {
  const rnd = prng(5);
  for (let i = 0; i < 200; i++) {
    const t = randomText(rnd, Math.floor(rnd() * 200));
    assertEquals(utf8Length(t), bytes(t).length);
  }
  assertEquals(utf8Length("\uD800"), 3);
  assert(fitsMessageLimit("x".repeat(MAX_MESSAGE_BYTES)));
  assert(!fitsMessageLimit("x".repeat(MAX_MESSAGE_BYTES + 1)));
  assert(fitsMessageLimit("👋".repeat(MAX_MESSAGE_BYTES / 4)));
  assert(!fitsMessageLimit("👋".repeat(MAX_MESSAGE_BYTES / 4) + "x"));
  assert(fitsMessageLimit("é".repeat(MAX_MESSAGE_BYTES / 2)));
  assert(!fitsMessageLimit("é".repeat(MAX_MESSAGE_BYTES / 2 + 1)));
});

// ---------------------------------------------------------------------------
// time.ts
// ---------------------------------------------------------------------------

Deno.test("formatStamp() is local YYYY-MM-DD HH:MM:SS and clockOf its time", () => {
  const d = new Date(2023, 9, 21, 2, 14, 41, 999);
  assertEquals(formatStamp(d.getTime()), "2023-10-21 02:14:41");
  assertEquals(clockOf("2023-10-21 02:14:41"), "02:14:41");
  const e = new Date(2024, 0, 2, 13, 5, 9);
  assertEquals(formatStamp(e.getTime()), "2024-01-02 13:05:09");
});
