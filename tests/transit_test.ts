/**
 * Transit sealing (protocol/transit_crypto.ts; issue 14, "Encrypted in
 * transit, everywhere"): the agreement, the envelope, and the real server
 * and client cores on a fake network with keyed clients.
 */
import { assert, assertEquals } from "./_assert.ts";
import { ClientState } from "./_client.ts";
import { clientAddr, FakeNet, seededBytes, SERVER } from "./_sim.ts";
import { encodeMessage, peekType } from "../protocol/codec.ts";
import { MAX_DATAGRAM_BYTES } from "../protocol/constants.ts";
import { agreementKeyFromSecret } from "../protocol/e2e_crypto.ts";
import type { Address } from "../protocol/address.ts";
import {
  ENVELOPE_OVERHEAD_BYTES,
  isSealed,
  serverTransitKey,
  transitSession,
} from "../protocol/transit_crypto.ts";
import { ServerState, type TransitMode } from "../server/state.ts";

const encoder = new TextEncoder();

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

Deno.test("transitSession() agrees the same keys on both ends, one per direction", () => {
  const server = serverTransitKey(new Uint8Array(32).fill(9));
  const client = agreementKeyFromSecret(new Uint8Array(32).fill(3));
  const s = transitSession(server, { peer: client.publicKey, role: "server" })!;
  const c = transitSession(client, { peer: server.publicKey, role: "client" })!;
  const plain = encodeMessage({ t: "ack", id: 7 });
  const down = s.seal(plain, new Uint8Array(12).fill(1));
  const up = c.seal(plain, new Uint8Array(12).fill(1));
  assertEquals(down.length, plain.length + ENVELOPE_OVERHEAD_BYTES);
  assert(isSealed(down) && !isSealed(plain));
  assertEquals(c.open(down), plain);
  assertEquals(s.open(up), plain);
  // Same nonce, other direction: other key, so other bytes, and a sealed
  // datagram never opens with its own direction's key.
  assert(!contains(down, up.subarray(13)));
  assertEquals(s.open(down), undefined);
  assertEquals(c.open(up), undefined);
  // Tampered, truncated, or under another client's key: nothing.
  const tampered = down.slice();
  tampered[20] ^= 1;
  assertEquals(c.open(tampered), undefined);
  assertEquals(c.open(down.subarray(0, down.length - 1)), undefined);
  assertEquals(c.open(down.subarray(0, 10)), undefined);
  const other = agreementKeyFromSecret(new Uint8Array(32).fill(4));
  const o = transitSession(other, { peer: server.publicKey, role: "client" })!;
  assertEquals(o.open(down), undefined);
  // A bad peer key (a low-order point: all zero) agrees nothing.
  assertEquals(
    transitSession(client, { peer: "A".repeat(43), role: "client" }),
    undefined,
  );
});

Deno.test("peekType() reads the type encodeMessage() puts second, whatever the field order", () => {
  assertEquals(
    peekType(encodeMessage({ id: 3, t: "welcome", tok: "t", off: 0 } as never)),
    "welcome",
  );
  assertEquals(peekType(encoder.encode('{"t":"ack","v":1,"id":1}')), undefined);
  assertEquals(peekType(new Uint8Array([1, 123, 34])), undefined);
});

/** A server and keyed clients on a fake network, every datagram recorded. */
function keyedChat(
  names: string[],
  options: { transit?: TransitMode; seed?: number } = {},
) {
  const net = new FakeNet({ seed: options.seed ?? 1 });
  const wire: { from: Address; to: Address; bytes: Uint8Array }[] = [];
  let tap:
    | ((d: { from: Address; to: Address; bytes: Uint8Array }) => boolean)
    | undefined;
  net.filter = (d) => {
    wire.push({ ...d, bytes: d.bytes.slice() });
    return tap?.(d) ?? false;
  };
  const server = net.add(
    SERVER,
    new ServerState({
      random: seededBytes(options.seed ?? 1),
      transit: options.transit,
    }),
  );
  const clients = new Map<string, ClientState>();
  names.forEach((name, i) => {
    const c = net.add(
      clientAddr(i),
      new ClientState({
        name,
        server: SERVER,
        random: seededBytes(100 + i),
        agreement: agreementKeyFromSecret(seededBytes(200 + i)(32)),
      }),
    );
    clients.set(name, c);
    c.start(net.now);
    net.step();
    net.run(200);
  });
  const type = (name: string, line: string) => {
    clients.get(name)!.command(line, net.now);
    net.step();
    net.run(1000);
  };
  return {
    net,
    server,
    clients,
    wire,
    type,
    setTap: (f: typeof tap) => (tap = f),
  };
}

Deno.test("transit: group text, relayed and stored, never crosses the wire in clear; everything after the welcome is sealed", () => {
  const { net, wire, type, server } = keyedChat(["userA", "userB", "userC"]);
  const text = "the group secret 7f3a";
  type("userA", `send_all ${text}`);
  assert(net.lines(clientAddr(1)).some((l) => l.includes(text)));
  assert(net.lines(clientAddr(2)).some((l) => l.includes(text)));
  // userC leaves; a group message is stored for it and delivered at reg.
  type("userC", "dereg userC");
  const later = "stored group words 91bc";
  type("userA", `send_all ${later}`);
  type("userC", "reg userC");
  assert(net.lines(clientAddr(2)).some((l) => l.includes(later)));
  // The server prints group text (the spec has it), the wire never carries it.
  const needles = [text, later].map((t) => encoder.encode(t));
  for (const d of wire) {
    for (const n of needles) assert(!contains(d.bytes, n), "group text seen");
  }
  // Every datagram is sealed except registrations and their plaintext answers.
  for (const d of wire) {
    if (isSealed(d.bytes)) continue;
    const t = peekType(d.bytes);
    const peer = d.from.port !== SERVER.port && d.to.port !== SERVER.port;
    assert(
      peer || t === "reg" || t === "welcome" || t === "retry" || t === "err",
      `plaintext ${t}`,
    );
  }
  assert(wire.filter((d) => isSealed(d.bytes)).length > 10);
  assertEquals(server.stats().dropped.sealed, undefined);
  assertEquals(server.stats().dropped.plaintext, undefined);
});

Deno.test("transit: a tampered, truncated or other-key envelope is dropped, counted and changes nothing", () => {
  const { net, clients, wire, server, type } = keyedChat(["userA", "userB"]);
  type("userA", "send_all hello");
  const toB = wire.filter((d) =>
    d.to.port === clientAddr(1).port && d.from.port === SERVER.port &&
    isSealed(d.bytes)
  );
  const toA = wire.filter((d) =>
    d.to.port === clientAddr(0).port && d.from.port === SERVER.port &&
    isSealed(d.bytes)
  );
  const fromA = wire.filter((d) =>
    d.from.port === clientAddr(0).port && d.to.port === SERVER.port &&
    isSealed(d.bytes)
  );
  assert(toB.length > 0 && toA.length > 0 && fromA.length > 0);
  const b = clients.get("userB")!;
  const before = { lines: net.lines(clientAddr(1)).length, table: b.table };
  const flip = (bytes: Uint8Array, at: number) => {
    const x = bytes.slice();
    x[at] ^= 0x40;
    return x;
  };
  const last = toB[toB.length - 1].bytes;
  // Tampered nonce, ciphertext, tag; truncated; sealed for userA.
  net.inject(SERVER, clientAddr(1), flip(last, 3));
  net.inject(SERVER, clientAddr(1), flip(last, 20));
  net.inject(SERVER, clientAddr(1), flip(last, last.length - 1));
  net.inject(SERVER, clientAddr(1), last.subarray(0, last.length - 4));
  net.inject(SERVER, clientAddr(1), toA[toA.length - 1].bytes);
  net.run(100);
  assertEquals(b.dropped.sealed, 5);
  assertEquals(net.lines(clientAddr(1)).length, before.lines);
  assertEquals(b.table, before.table);
  // To the server: tampered or sealed with another session's key.
  const events = server.events().length;
  const up = fromA[fromA.length - 1].bytes;
  net.inject(clientAddr(0), SERVER, flip(up, 30));
  net.inject(clientAddr(1), SERVER, up);
  net.run(100);
  assertEquals(server.stats().dropped.sealed, 2);
  assertEquals(server.events().length, events);
  assertEquals(net.lines(SERVER).filter((l) => l.includes("hello")).length, 1);
});

Deno.test("transit: plaintext from a keyed session is dropped both ways", () => {
  const { net, clients, wire, server } = keyedChat(["userA", "userB"]);
  const welcome = wire.find((d) =>
    d.to.port === clientAddr(0).port && peekType(d.bytes) === "welcome"
  )!;
  const tok = JSON.parse(new TextDecoder().decode(welcome.bytes)).tok;
  // An attacker spoofing userA's address, with its token seen in the welcome.
  net.inject(
    clientAddr(0),
    SERVER,
    encodeMessage({
      t: "all",
      id: 99,
      tok,
      k: "x:1",
      pi: 0,
      pn: 1,
      text: "forged",
    }),
  );
  net.run(100);
  assertEquals(server.stats().dropped.plaintext, 1);
  assert(!net.lines(SERVER).some((l) => l.includes("forged")));
  // And a forged plaintext group message to a keyed client.
  net.inject(
    SERVER,
    clientAddr(1),
    encodeMessage({
      t: "msg",
      id: 5,
      from: "userA",
      g: 1,
      k: "userA:zz:1",
      pi: 0,
      pn: 1,
      text: "forged",
    }),
  );
  net.run(100);
  assertEquals(clients.get("userB")!.dropped.plaintext, 1);
  assert(!net.lines(clientAddr(1)).some((l) => l.includes("forged")));
});

Deno.test("transit: a client sealing for a restarted server registers again and its message goes through", () => {
  const { net, clients, type } = keyedChat(["userA"]);
  net.remove(SERVER);
  const fresh = net.add(SERVER, new ServerState({ random: seededBytes(77) }));
  type("userA", "send_all after the restart");
  net.run(3000);
  assertEquals(clients.get("userA")!.phase, "online");
  assert((fresh.stats().dropped.sealed ?? 0) >= 1);
  assert(
    net.lines(SERVER).some((l) => l.includes("after the restart")),
    net.lines(SERVER).join("\n"),
  );
});

Deno.test("transit: the largest parts still fit 1,200 bytes sealed", () => {
  const names = ["u".repeat(32), "v".repeat(32)];
  const { net, type } = keyedChat(names);
  const text = "€".repeat(5461); // 16,383 bytes: the longest message
  type(names[0], `send_all ${text}`);
  type(names[0], `send ${names[1]} ${text}`);
  net.run(2000);
  assert(net.largest <= MAX_DATAGRAM_BYTES, `largest ${net.largest}`);
  assert(net.largest > 1000, `largest ${net.largest}`);
});

Deno.test("transit: `clear` (benchmarks only) seals nothing", () => {
  const { wire, net, type } = keyedChat(["userA", "userB"], {
    transit: "clear",
  });
  type("userA", "send_all in clear");
  assert(net.lines(clientAddr(1)).some((l) => l.includes("in clear")));
  assert(!wire.some((d) => isSealed(d.bytes)));
});
