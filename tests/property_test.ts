/**
 * Property-based tests (fast-check, a dev-only dependency): the decoder and
 * both state machines take whatever the network throws at them, well over
 * 100,000 generated and mutated datagrams a run, and keep working.
 */
import fc from "fast-check";
import {
  decodeMessage,
  encodeMessage,
  MESSAGE_TYPES,
} from "../protocol/codec.ts";
import { MAX_UDP_PAYLOAD } from "../protocol/constants.ts";
import type { Message } from "../protocol/messages.ts";
import type { Address } from "../protocol/address.ts";
import { assert, assertEquals } from "./_assert.ts";
import { chat, clientAddr, SERVER } from "./_sim.ts";

const encoder = new TextEncoder();
const TYPES = MESSAGE_TYPES;

const name = fc.oneof(
  fc.constantFrom("userA", "userB", "nobody"),
  fc.string({ maxLength: 40 }),
);
const num = fc.oneof(
  fc.nat(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308, Number.NaN),
);
const text = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.fullUnicodeString({ maxLength: 300 }),
);

/** Valid messages of every type. */
const validMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    t: fc.constant("reg" as const),
    id: fc.nat(),
    name: fc.constantFrom("userA", "userB", "x"),
  }),
  fc.record({
    t: fc.constant("dereg" as const),
    id: fc.nat(),
    name: fc.constantFrom("userA", "userB"),
    tok: fc.hexaString(),
  }),
  fc.record({
    t: fc.constant("all" as const),
    id: fc.nat(),
    tok: fc.hexaString(),
    k: fc.constantFrom("userA:1:1", "k"),
    pi: fc.nat({ max: 3 }),
    pn: fc.constant(4),
    text: fc.string(),
  }),
  fc.record({ t: fc.constant("ack" as const), id: fc.nat() }),
  fc.record({ t: fc.constant("ping" as const), id: fc.nat() }),
  fc.record({
    t: fc.constant("msg" as const),
    id: fc.nat(),
    from: fc.constantFrom("userA", "userB"),
    g: fc.constantFrom(0 as const, 1 as const),
    k: fc.string({ minLength: 1, maxLength: 10 }),
    pi: fc.constant(0),
    pn: fc.constant(1),
    text: fc.string(),
  }),
  fc.record({
    t: fc.constant("tbl" as const),
    id: fc.nat(),
    ver: fc.nat({ max: 20 }),
    i: fc.constant(0),
    n: fc.constant(1),
    rows: fc.array(
      fc.tuple(
        fc.constantFrom("userA", "userB", "userZ"),
        fc.constant("127.0.0.1"),
        fc.nat({ max: 65535 }),
        fc.constantFrom(0 as const, 1 as const),
      ),
      { maxLength: 5 },
    ),
  }),
  fc.record({
    t: fc.constant("note" as const),
    id: fc.nat(),
    k: fc.constantFrom(
      "noack" as const,
      "dlv" as const,
      "rcv" as const,
      "saved" as const,
      "done" as const,
    ),
    name: fc.constantFrom("userA", "userB"),
    ref: fc.string({ maxLength: 10 }),
  }),
);

/** Datagrams as an attacker makes them: random, mutated, structurally wrong, deep, huge. */
const hostile: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 1300 }) },
  {
    weight: 4,
    arbitrary: fc.tuple(
      validMessage,
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 }),
      fc.nat(),
    )
      .map(([m, flips, cut]) => {
        const b = encodeMessage(m);
        for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
        return cut % 5 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
      }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      v: fc.oneof(fc.constant(1), num),
      t: fc.oneof(fc.constantFrom(...TYPES), fc.string()),
      id: fc.oneof(fc.nat(), num, fc.string()),
      name,
      tok: fc.oneof(fc.hexaString(), fc.anything()),
      k: fc.oneof(fc.string(), fc.anything()),
      pi: num,
      pn: num,
      text: fc.oneof(text, fc.anything()),
      rows: fc.oneof(
        fc.anything(),
        fc.array(fc.array(fc.anything(), { maxLength: 5 }), { maxLength: 5 }),
      ),
      from: fc.oneof(name, num),
      ver: num,
      g: num,
      __proto__: fc.anything(),
    }, { requiredKeys: ["v", "t"] }).map((o) =>
      encoder.encode(JSON.stringify(o))
    ),
  },
  {
    weight: 1,
    arbitrary: fc.nat({ max: 600 }).map((d) =>
      encoder.encode(
        `{"v":1,"t":"msg","id":1,"text":${"[".repeat(d)}${"]".repeat(d)}}`,
      )
    ),
  },
  {
    weight: 1,
    arbitrary: fc.nat({ max: MAX_UDP_PAYLOAD }).map((n) =>
      new Uint8Array(n).fill(0x7b)
    ),
  },
);

Deno.test("decodeMessage() never throws and round-trips every valid message", () => {
  let runs = 0;
  fc.assert(
    fc.property(hostile, (bytes) => {
      runs++;
      const r = decodeMessage(bytes);
      if (r.ok) assertEquals(decodeMessage(encodeMessage(r.message)), r);
    }),
    { numRuns: 60_000 },
  );
  fc.assert(
    fc.property(validMessage, (m) => {
      runs++;
      const r = decodeMessage(encodeMessage(m));
      if (encodeMessage(m).length <= 1200) assert(r.ok, JSON.stringify(m));
    }),
    { numRuns: 10_000 },
  );
  assert(runs >= 70_000);
});

Deno.test("both state machines take 40,000 hostile datagrams and keep working", () => {
  const { net, type, addr, server, clients } = chat([
    "userA",
    "userB",
    "userC",
  ]);
  const sources: Address[] = [
    SERVER,
    addr("userA"),
    addr("userB"),
    clientAddr(40),
    { hostname: "::1", port: 1 },
  ];
  let n = 0;
  fc.assert(
    fc.property(
      hostile,
      fc.nat({ max: sources.length - 1 }),
      fc.nat({ max: 2 }),
      (bytes, s, target) => {
        n++;
        const from = sources[s];
        net.now += 1;
        if (target === 0) server.receiveDatagram(bytes, from, net.now);
        else {[...clients.values()][target].receiveDatagram(
            bytes,
            from,
            net.now,
          );}
        if (n % 100 === 0) net.step();
      },
    ),
    { numRuns: 40_000 },
  );
  net.step();
  net.run(5_000);
  // Invariants: one row per user, nobody in two states, drops counted.
  const names = server.table.map((r) => r[0]);
  assertEquals(new Set(names).size, names.length);
  for (const name of ["userA", "userB", "userC"]) assert(names.includes(name));
  const dropped = Object.values(server.stats().dropped).reduce(
    (a, b) => a + b,
    0,
  );
  assert(dropped > 1000, `server counted ${dropped} drops`);

  // A normal round still works: send, send_all, dereg, reg.
  for (const c of clients.values()) assertEquals(c.exitCode, undefined);
  type("userA", "reg userA");
  type("userB", "reg userB");
  type("userC", "reg userC");
  net.run(2000);
  type("userA", "send userB after the storm");
  net.run(1000);
  assert(net.lines(addr("userB")).includes("userA: after the storm"));
  type("userB", "send_all group after the storm");
  net.run(1000);
  assert(
    net.lines(addr("userA")).includes(
      "Group Chat userB: group after the storm",
    ),
  );
  assert(
    net.lines(addr("userC")).includes(
      "Group Chat userB: group after the storm",
    ),
  );
  type("userC", "dereg userC");
  net.run(500);
  type("userA", "send userC while away");
  net.run(1000);
  type("userC", "reg userC");
  net.run(2000);
  const c = net.lines(addr("userC"));
  assertEquals(
    c.filter((l) =>
      / \d\d:\d\d:\d\d while away$/.test(l) || l === "userA: while away"
    ).length,
    1,
  );
  // No message both delivered and stored: nothing is left in the store.
  assertEquals(server.stats().offlineMessages, 0);
  assert(n >= 40_000);
});

Deno.test("decodeMessage() reads a -0 as 0, so a decoded message encodes back the same", () => {
  const r = decodeMessage(
    encoder.encode('{"v":1,"t":"tbl","id":-0,"ver":-0,"i":0,"n":1,"rows":[]}'),
  );
  assert(r.ok);
  assertEquals(decodeMessage(encodeMessage(r.message)), r);
  assert(
    r.message.t === "tbl" && Object.is(r.message.ver, 0) &&
      Object.is(r.message.id, 0),
  );
});
