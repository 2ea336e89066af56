/**
 * Sealed private messages (issue 14): the crypto helper on its own (round
 * trip, wrong key, wrong associated data, tampering, sizes), and the client
 * core: a sealed message between two clients, a tampered one dropped and
 * counted, and the warning when a claimed peer's key changes.
 */
import { assert, assertEquals } from "./_assert.ts";
import { clientAddr, FakeNet, seededBytes, SERVER } from "./_sim.ts";
import { ClientState as SimClient } from "./_client.ts";
import { ServerState } from "../server/state.ts";
import { claimKeyFromSeed } from "../protocol/claim.ts";
import {
  agreementKeyFromSecret,
  sealedLength,
} from "../protocol/e2e_crypto.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import { MAX_MESSAGE_BYTES, MAX_PARTS } from "../protocol/constants.ts";
import { splitText } from "../protocol/text.ts";
import type { Address } from "../protocol/address.ts";
import type { ChatMessage, Message, Row } from "../protocol/messages.ts";
import { ClientState } from "../client/mod.ts";
import type { ClientEvent } from "../client/mod.ts";

const a = agreementKeyFromSecret(new Uint8Array(32).fill(7));
const b = agreementKeyFromSecret(new Uint8Array(32).fill(9));
const c = agreementKeyFromSecret(new Uint8Array(32).fill(11));
const CTX = { from: "userA", to: "userB", k: "userA:0102030405:1" };
const NONCE = new Uint8Array(12).fill(3);

Deno.test("e2e_crypto: a sealed text opens for its recipient only", () => {
  const sealed = a.seal("secret 🔒", {
    to: b.publicKey,
    context: CTX,
    nonce: NONCE,
  });
  assert(sealed !== undefined);
  assert(!sealed.includes("secret"));
  assertEquals(b.open(sealed, CTX), {
    text: "secret 🔒",
    senderKey: a.publicKey,
  });
  // Another key, or the sender itself, cannot open it.
  assertEquals(c.open(sealed, CTX), undefined);
  assertEquals(a.open(sealed, CTX), undefined);
});

Deno.test("e2e_crypto: the sender, the recipient and the message key are bound", () => {
  const sealed = a.seal("hi", { to: b.publicKey, context: CTX, nonce: NONCE })!;
  assertEquals(b.open(sealed, { ...CTX, from: "userC" }), undefined);
  assertEquals(b.open(sealed, { ...CTX, to: "userD" }), undefined);
  assertEquals(b.open(sealed, { ...CTX, k: "userA:0102030405:2" }), undefined);
});

Deno.test("e2e_crypto: any changed character, or garbage, does not open", () => {
  const sealed = a.seal("hello there", {
    to: b.publicKey,
    context: CTX,
    nonce: NONCE,
  })!;
  for (let i = 0; i < sealed.length; i++) {
    const flipped = sealed[i] === "A" ? "B" : "A";
    const tampered = sealed.slice(0, i) + flipped + sealed.slice(i + 1);
    assertEquals(b.open(tampered, CTX), undefined, `character ${i}`);
  }
  for (
    const junk of ["", "!!", "A".repeat(10), sealed.slice(0, -1), sealed + "A"]
  ) {
    assertEquals(b.open(junk, CTX), undefined);
  }
  assertEquals(
    a.seal("x", { to: "not a key", context: CTX, nonce: NONCE }),
    undefined,
  );
});

Deno.test("e2e_crypto: 16 KiB sealed fits 64 parts of 900 bytes", () => {
  const text = "é".repeat(MAX_MESSAGE_BYTES / 2);
  const sealed = a.seal(text, { to: b.publicKey, context: CTX, nonce: NONCE })!;
  assertEquals(sealed.length, sealedLength(MAX_MESSAGE_BYTES));
  assertEquals(sealedLength(MAX_MESSAGE_BYTES), 21926);
  const parts = splitText(sealed);
  assert(parts.length <= MAX_PARTS, `${parts.length} parts`);
  assertEquals(b.open(parts.join(""), CTX)?.text, text);
});

// ---- the client core ------------------------------------------------------

const SRV: Address = { hostname: "127.0.0.1", port: 5000 };
const ADDR_A: Address = { hostname: "127.0.0.1", port: 6000 };
const ADDR_B: Address = { hostname: "127.0.0.1", port: 6001 };
const T0 = 1_700_000_000_000;

interface Peer {
  core: ClientState;
  events: ClientEvent[];
}

function online(name: string, secret: number, rows: Row[]): Peer {
  const core = new ClientState({
    name,
    server: SRV,
    random: seededBytes(secret),
    agreement: agreementKeyFromSecret(new Uint8Array(32).fill(secret)),
  });
  core.start(T0);
  const reg = decodeMessage(core.datagramsToSend()[0].bytes);
  assert(reg.ok && reg.message.t === "reg");
  // Every client publishes its X25519 key at registration.
  assertEquals(
    reg.message.xk,
    agreementKeyFromSecret(new Uint8Array(32).fill(secret)).publicKey,
  );
  const recv = (m: Message) => core.receiveDatagram(encodeMessage(m), SRV, T0);
  recv({ t: "welcome", id: reg.message.id, tok: "ab".repeat(16), off: 0 });
  recv({ t: "tbl", id: 90_000, ver: 1, i: 0, n: 1, rows });
  core.datagramsToSend();
  return { core, events: core.events() };
}

const ROWS: Row[] = [
  ["userA", "127.0.0.1", 6000, 1, a.publicKey],
  ["userB", "127.0.0.1", 6001, 1, b.publicKey],
];

function sendPeerToPeer(
  text: string,
): { A: Peer; B: Peer; msgs: Uint8Array[] } {
  const A = online("userA", 7, ROWS);
  const B = online("userB", 9, ROWS);
  A.core.command(`send userB ${text}`, T0);
  const msgs = A.core.datagramsToSend().filter((d) => d.to.port === ADDR_B.port)
    .map((d) => d.bytes);
  return { A, B, msgs };
}

Deno.test("client core: a private message goes sealed peer to peer and is shown", () => {
  const { B, msgs } = sendPeerToPeer("the secret plan");
  assertEquals(msgs.length, 1);
  const m = decodeMessage(msgs[0]);
  assert(m.ok && m.message.t === "msg");
  assertEquals((m.message as ChatMessage).e, 1);
  assert(!new TextDecoder().decode(msgs[0]).includes("secret"));
  B.core.receiveDatagram(msgs[0], ADDR_A, T0);
  assertEquals(B.core.events(), [
    { type: "message", from: "userA", message: "the secret plan", own: false },
  ]);
  const ack = decodeMessage(B.core.datagramsToSend()[0].bytes);
  assert(ack.ok && ack.message.t === "ack");
  assertEquals(ack.message.r, undefined);
});

Deno.test("client core: a tampered ciphertext is dropped, counted and ACKed held", () => {
  const { B, msgs } = sendPeerToPeer("do not read");
  const m = decodeMessage(msgs[0]);
  assert(m.ok && m.message.t === "msg");
  const text = m.message.text;
  const i = text.length - 5;
  const tampered = {
    ...m.message,
    text: text.slice(0, i) + (text[i] === "A" ? "B" : "A") + text.slice(i + 1),
  };
  B.core.receiveDatagram(encodeMessage(tampered), ADDR_A, T0);
  assertEquals(B.core.events(), []);
  assertEquals(B.core.dropped.decrypt_failed, 1);
  const ack = decodeMessage(B.core.datagramsToSend()[0].bytes);
  assert(ack.ok && ack.message.t === "ack");
  // Not shown: the sender sends it through the server, nobody goes Offline.
  assertEquals(ack.message.r, "held");
  // Its retransmission is ACKed held too; the genuine copy is then shown.
  B.core.receiveDatagram(encodeMessage(tampered), ADDR_A, T0 + 30);
  const again = decodeMessage(B.core.datagramsToSend()[0].bytes);
  assert(again.ok && again.message.t === "ack");
  assertEquals(again.message.r, "held");
  B.core.receiveDatagram(
    encodeMessage({ ...m.message, id: m.message.id + 100 }),
    ADDR_A,
    T0 + 40,
  );
  assertEquals(B.core.events(), [
    { type: "message", from: "userA", message: "do not read", own: false },
  ]);
});

Deno.test("client core: a message sealed by a key other than the sender's row is dropped", () => {
  const { msgs } = sendPeerToPeer("hello");
  // userB's table says userA's key is c's: the message (sealed by a) is refused.
  const B = online("userB", 9, [
    ["userA", "127.0.0.1", 6000, 1, c.publicKey],
    ROWS[1],
  ]);
  B.core.receiveDatagram(msgs[0], ADDR_A, T0);
  assertEquals(B.core.events(), []);
  assertEquals(B.core.dropped.decrypt_failed, 1);
});

Deno.test("client core: a claimed peer's key change prints a warning, an unclaimed one's does not", () => {
  const B = online("userB", 9, [
    ["userA", "127.0.0.1", 6000, 1, a.publicKey, 1],
    ["userC", "127.0.0.1", 6002, 1, c.publicKey],
    ROWS[1],
  ]);
  B.core.receiveDatagram(
    encodeMessage({
      t: "tbl",
      id: 90_001,
      ver: 2,
      from: 1,
      rows: [
        ["userA", "127.0.0.1", 6000, 1, c.publicKey, 1],
        ["userC", "127.0.0.1", 6002, 1, a.publicKey],
      ],
    }),
    SRV,
    T0,
  );
  const warnings = B.core.events().filter((e) => e.type === "key_changed");
  assertEquals(warnings, [{ type: "key_changed", name: "userA" }]);
});

Deno.test("client core: a recipient that published no key gets plain text", () => {
  const rows: Row[] = [ROWS[0], ["userB", "127.0.0.1", 6001, 1]];
  const A = online("userA", 7, rows);
  A.core.command("send userB plain", T0);
  const m = decodeMessage(A.core.datagramsToSend()[0].bytes);
  assert(m.ok && m.message.t === "msg");
  assertEquals([m.message.text, m.message.e], ["plain", undefined]);
});

Deno.test("client core: an Offline recipient gets a sealed copy only when its name is claimed", () => {
  for (const [claimed, sealed] of [[false, false], [true, true]] as const) {
    const rowB: Row = claimed
      ? ["userB", "127.0.0.1", 6001, 0, b.publicKey, 1]
      : ["userB", "127.0.0.1", 6001, 0, b.publicKey];
    const A = online("userA", 7, [ROWS[0], rowB]);
    A.core.command("send userB for later", T0);
    const save = A.core.datagramsToSend().map((d) => decodeMessage(d.bytes))
      .find((r) => r.ok && r.message.t === "save");
    assert(save?.ok && save.message.t === "save");
    assertEquals(save.message.e === 1, sealed, `claimed: ${claimed}`);
    assertEquals(save.message.text.includes("for later"), !sealed);
  }
});

// ---- a sealed message whose flag was lost on the way -----------------------

// A relay that does not carry `e` (an older server, or one that rebuilds the
// message from the fields it knows): every `msg` from the server to `to`
// arrives without it. On the fake network, with the real cores.
function stripSealedFlag(net: FakeNet, to: (a: Address) => boolean): void {
  net.filter = (d) => {
    if (d.from.port !== SERVER.port || !to(d.to)) return false;
    const r = decodeMessage(d.bytes);
    if (!r.ok || r.message.t !== "msg" || r.message.e !== 1) return false;
    const { e: _e, ...plain } = r.message;
    net.inject(d.from, d.to, encodeMessage(plain));
    return true;
  };
}

function joinSealed(
  net: FakeNet,
  at: Address,
  options: { name: string; seed: number; secret: number; claimed?: boolean },
): SimClient {
  const client = net.add(
    at,
    new SimClient({
      name: options.name,
      server: SERVER,
      random: seededBytes(options.seed),
      claim: options.claimed === true ? OWNER_CLAIM : undefined,
      agreement: agreementKeyFromSecret(
        new Uint8Array(32).fill(options.secret),
      ),
    }),
  );
  client.start(net.now);
  net.step();
  net.run(1000);
  return client;
}

const OWNER_CLAIM = claimKeyFromSeed(new Uint8Array(32).fill(1));
// Base64url runs as long as a sealed text: what must never be shown.
const SEALED_RUN = /[A-Za-z0-9_-]{80,}/;

for (const long of [false, true]) {
  Deno.test(`sim: a sealed ${long ? "long " : ""}offline message whose flag was lost is opened, never shown raw`, () => {
    const net = new FakeNet();
    net.add(SERVER, new ServerState({ random: seededBytes(1) }));
    const A = clientAddr(1), B = clientAddr(2), B2 = clientAddr(3);
    const a = joinSealed(net, A, { name: "userA", seed: 11, secret: 5 });
    const b = joinSealed(net, B, {
      name: "userB",
      seed: 12,
      secret: 6,
      claimed: true,
    });
    b.command("dereg userB", net.now);
    net.step();
    net.run(1000);
    const text = long ? "secret for B, ".repeat(200).trim() : "secret for B";
    a.command(`send userB ${text}`, net.now);
    net.step();
    net.run(2000);
    stripSealedFlag(net, (to) => to.port === B2.port);
    joinSealed(net, B2, { name: "userB", seed: 13, secret: 6, claimed: true });
    net.run(2000);
    const lines = net.lines(B2);
    assert(!lines.some((l) => SEALED_RUN.test(l)), lines.join("\n"));
    assert(lines.some((l) => l.endsWith(text)), lines.join("\n"));
  });
}

Deno.test("sim: a sealed message relayed by the server (save, pending) whose flag was lost is opened, never shown raw", () => {
  const net = new FakeNet();
  net.add(SERVER, new ServerState({ random: seededBytes(1) }));
  const A = clientAddr(1), B = clientAddr(2);
  const a = joinSealed(net, A, { name: "userA", seed: 11, secret: 5 });
  joinSealed(net, B, { name: "userB", seed: 12, secret: 6 });
  stripSealedFlag(net, (to) => to.port === B.port);
  const filter = net.filter!;
  // userA cannot reach userB directly: the server relays (`r: "pending"`).
  net.filter = (d) =>
    (d.from.port === A.port && d.to.port === B.port) ||
    filter(d);
  a.command("send userB relayed secret", net.now);
  net.step();
  net.run(3000);
  const lines = net.lines(B);
  assert(!lines.some((l) => SEALED_RUN.test(l)), lines.join("\n"));
  assert(lines.includes("userA: relayed secret"), lines.join("\n"));
});

Deno.test("client core: a message one part of which is flagged sealed is opened as a whole, or dropped", () => {
  const text = "part ".repeat(300);
  const { B, msgs } = sendPeerToPeer(text);
  assert(msgs.length > 1, `${msgs.length} parts`);
  // The last part loses its flag: the message is still sealed, and opens.
  msgs.forEach((bytes, i) => {
    const r = decodeMessage(bytes);
    assert(r.ok && r.message.t === "msg");
    const { e: _e, ...plain } = r.message;
    const m = i === msgs.length - 1 ? plain : r.message;
    B.core.receiveDatagram(encodeMessage(m), ADDR_A, T0);
  });
  assertEquals(B.core.events(), [
    { type: "message", from: "userA", message: text, own: false },
  ]);
  // A forged text that looks sealed, unflagged, does not open: dropped.
  const forged = b.seal("x", {
    to: b.publicKey,
    context: { from: "userA", to: "userB", k: "userA:ff:9" },
    nonce: NONCE,
  })!;
  B.core.receiveDatagram(
    encodeMessage({
      t: "msg",
      id: 4242,
      from: "userA",
      g: 0,
      k: "userA:ff:9",
      pi: 0,
      pn: 1,
      text: forged,
    }),
    ADDR_A,
    T0,
  );
  assertEquals(B.core.events(), []);
  assertEquals(B.core.dropped.decrypt_failed, 1);
});
