/**
 * Claimed names (issue 14), on the fake network with the real cores: a
 * claimed Offline name cannot be taken over from another address (no key, or
 * a wrong passphrase) and nothing stored for it leaks; its owner comes back
 * from a new port and gets its stored messages; forged and replayed
 * signatures are refused; unclaimed names keep today's rules.
 */
import { assert, assertEquals } from "./_assert.ts";
import type { Address } from "../protocol/address.ts";
import { claimKeyFromSeed, regPayload } from "../protocol/claim.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { RegMessage } from "../protocol/messages.ts";
import { ClientState } from "./_client.ts";
import { chat, clientAddr, seededBytes, SERVER } from "./_sim.ts";

const OWNER = claimKeyFromSeed(new Uint8Array(32).fill(1));
const WRONG = claimKeyFromSeed(new Uint8Array(32).fill(2));
const REFUSED =
  "[Username userN is protected by a passphrase: wrong passphrase, or not claimed in this session.]";

type Chat = ReturnType<typeof chat>;

function join(
  c: Chat,
  at: Address,
  options: { name: string; claim?: typeof OWNER; seed: number },
): ClientState {
  const client = c.net.add(
    at,
    new ClientState({
      name: options.name,
      server: SERVER,
      random: seededBytes(options.seed),
      claim: options.claim,
    }),
  );
  client.start(c.net.now);
  c.net.step();
  c.net.run(1000);
  return client;
}

// userJT and a claimed userN, which goes Offline; userJT saves a message for it.
function claimedOffline(): { c: Chat; owner: ClientState } {
  const c = chat(["userJT"]);
  const owner = join(c, clientAddr(10), {
    name: "userN",
    claim: OWNER,
    seed: 10,
  });
  assertEquals(owner.core.phase, "online");
  owner.command("dereg userN", c.net.now);
  c.net.step();
  c.net.run(1000);
  c.type("userJT", "send userN secret for N");
  c.net.run(2000);
  return { c, owner };
}

for (const impostor of [undefined, WRONG]) {
  Deno.test(
    `claims: a claimed Offline name is refused to ${
      impostor === undefined ? "an unclaimed session" : "a wrong passphrase"
    } from another address, which receives nothing`,
    () => {
      const { c } = claimedOffline();
      const at = clientAddr(20);
      const thief = join(c, at, { name: "userN", claim: impostor, seed: 20 });
      assertEquals(thief.exit?.reason, "name_in_use");
      assert(c.net.lines(at).includes(REFUSED), c.net.lines(at).join("\n"));
      assert(
        !c.net.lines(at).some((l) => l.includes("secret for N")),
        c.net.lines(at).join("\n"),
      );
      assertEquals(
        c.server.table.map((r) => [r[0], r[3]]),
        [["userJT", 1], ["userN", 0]],
      );
      assert((c.server.stats().dropped.claim_refused ?? 0) >= 1);
    },
  );
}

Deno.test("claims: the owner comes back from a new port and gets its stored message", () => {
  const { c } = claimedOffline();
  const at = clientAddr(30);
  const back = join(c, at, { name: "userN", claim: OWNER, seed: 30 });
  assertEquals(back.core.phase, "online");
  assert(
    c.net.lines(at).some((l) =>
      l.includes("userJT: ") && l.endsWith("secret for N")
    ),
    c.net.lines(at).join("\n"),
  );
});

Deno.test("claims: an unclaimed name keeps today's rules; the first claim binds it", () => {
  const c = chat(["userA"]);
  c.type("userA", "dereg userA");
  c.net.run(1000);
  // Unclaimed and Offline: any session may take it (the seed's rule)...
  const other = join(c, clientAddr(5), { name: "userA", seed: 5 });
  assertEquals(other.core.phase, "online");
  other.command("dereg userA", c.net.now);
  c.net.step();
  c.net.run(1000);
  // ...until someone claims it; then only that key registers it.
  const claimer = join(c, clientAddr(6), {
    name: "userA",
    claim: OWNER,
    seed: 6,
  });
  assertEquals(claimer.core.phase, "online");
  claimer.command("dereg userA", c.net.now);
  c.net.step();
  c.net.run(1000);
  const late = join(c, clientAddr(7), { name: "userA", seed: 7 });
  assertEquals(late.exit?.reason, "name_in_use");
});

// The datagrams a node sent to the server, decoded.
function regsFrom(c: Chat, at: Address): RegMessage[] {
  const out: RegMessage[] = [];
  const filter = c.net.filter;
  c.net.filter = (d) => {
    if (d.from.port === at.port && d.from.hostname === at.hostname) {
      const r = decodeMessage(d.bytes);
      if (r.ok && r.message.t === "reg") out.push(r.message);
    }
    return filter?.(d) ?? false;
  };
  return out;
}

Deno.test("claims: a replayed signed registration is refused, from any address", () => {
  const c = chat(["userJT"]);
  const at = clientAddr(10);
  const regs = regsFrom(c, at);
  const owner = join(c, at, { name: "userN", claim: OWNER, seed: 10 });
  assertEquals(owner.core.phase, "online");
  const signed = regs.find((m) => m.sig !== undefined);
  assert(signed !== undefined);
  owner.command("dereg userN", c.net.now);
  c.net.step();
  c.net.run(1000);
  c.net.remove(at);
  // The same signed reg again, from the same address and from another: the
  // challenge was used (or was never this address's), so only a new retry.
  const before = c.server.stats().dropped.stale_challenge ?? 0;
  for (const from of [at, clientAddr(11)]) {
    c.net.inject(from, SERVER, encodeMessage({ ...signed, id: signed.id + 7 }));
    c.net.run(100);
  }
  assertEquals(c.server.stats().dropped.stale_challenge ?? 0, before + 2);
  assertEquals(c.server.table.map((r) => [r[0], r[3]]), [
    ["userJT", 1],
    ["userN", 0],
  ]);
});

Deno.test("claims: a forged signature over a fresh challenge is refused", () => {
  const { c } = claimedOffline();
  const at = clientAddr(40);
  // The attacker gets a real challenge for its own address...
  let challenge: string | undefined;
  c.net.add(at, {
    receiveDatagram(bytes) {
      const r = decodeMessage(bytes);
      if (r.ok && r.message.t === "retry") challenge = r.message.ch;
    },
    handleTimer() {},
    getTimer: () => undefined,
    datagramsToSend: () => [],
    events: () => [],
  });
  const reg = { t: "reg" as const, id: 1, name: "userN", pk: OWNER.publicKey };
  c.net.inject(at, SERVER, encodeMessage(reg));
  c.net.run(100);
  assert(challenge !== undefined);
  // ...and signs it with another key, claiming the owner's public key.
  const payload = regPayload({
    name: "userN",
    ch: challenge,
    pk: OWNER.publicKey,
  });
  const before = c.server.stats().dropped.claim_refused ?? 0;
  c.net.inject(
    at,
    SERVER,
    encodeMessage({ ...reg, id: 2, ch: challenge, sig: WRONG.sign(payload) }),
  );
  c.net.run(100);
  assertEquals(c.server.stats().dropped.claim_refused ?? 0, before + 1);
  assertEquals(c.server.table.map((r) => [r[0], r[3]]), [
    ["userJT", 1],
    ["userN", 0],
  ]);
});

Deno.test("claims: a claimed registration fits a datagram with room to spare", () => {
  const name = "\ud55c".repeat(32);
  const bytes = encodeMessage({
    t: "reg",
    id: Number.MAX_SAFE_INTEGER,
    name,
    ck: "c".repeat(22),
    tok: "f".repeat(32),
    transient: 1,
    pk: OWNER.publicKey,
    ch: "A".repeat(22),
    sig: OWNER.sign(new Uint8Array(1)),
  });
  assert(bytes.length < 500, `${bytes.length}`);
  assertEquals(decodeMessage(bytes).ok, true);
});
