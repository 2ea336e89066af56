/**
 * Sealed private messages (issue 14): the crypto helper on its own (round
 * trip, wrong key, wrong associated data, tampering, sizes), and the client
 * core: a sealed message between two clients, a tampered one dropped and
 * counted, and the warning when a claimed peer's key changes.
 */
import { assert, assertEquals } from "./_assert.ts";
import { seededBytes } from "./_sim.ts";
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
