/**
 * User records on a durable store (issues 10 and 14), on the fake network
 * with the real cores and an in-test store: the requests a registration, a
 * claim, a `dereg` and a name's expiry make; a first claim answered only
 * once its record is `saved`, refused when the store is `unavailable` or
 * binds another key; `restoreUsers` on a new leader's core bringing every
 * user back Offline with its claim, so that an impostor is refused and the
 * owner, with its key, is welcomed and gets its stored messages. A new
 * leader of the same chat (chat_identity.ts) keeps the sessions of users
 * Online: nothing is registered again. The in-memory store makes no request
 * at all.
 */
import { assert, assertEquals } from "./_assert.ts";
import { type Address, sameAddress } from "../protocol/address.ts";
import { claimKeyFromSeed } from "../protocol/claim.ts";
import { agreementKeyFromSecret } from "../protocol/e2e_crypto.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import { type ChatIdentity, newChatIdentity } from "../server/chat_identity.ts";
import { MemoryStore } from "../server/memory_store.ts";
import { RESTORED_GRACE_MS } from "../server/restored_sessions.ts";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "../server/options.ts";
import { ServerState } from "../server/state.ts";
import {
  mergeUserRecord,
  type UserRecord,
  type UserRecordRequest,
  type UserRecordResult,
} from "../server/user_records.ts";

import { ClientState } from "./_client.ts";
import { clientAddr, FakeNet, type Node, seededBytes, SERVER } from "./_sim.ts";

const OWNER = claimKeyFromSeed(new Uint8Array(32).fill(1));
const WRONG = claimKeyFromSeed(new Uint8Array(32).fill(2));
const REFUSED =
  "[Username userN is protected by a passphrase: wrong passphrase, or not claimed in this session.]";
const DAY = 24 * 3_600_000;

/**
 * A server core on an external store, as runtime/durable_server.ts runs it:
 * the offline store answered at once (a MemoryStore), user records kept in
 * `kv` with the bucket's merge rules and answered by `policy` (or held).
 */
class DurableCore implements Node {
  readonly server: ServerState;
  /** The store's records, by name. */
  readonly kv = new Map<string, UserRecord>();
  /** Every user-record request the core made, in order. */
  readonly requests: UserRecordRequest[] = [];
  /** How the store answers: or `hold` to keep them for {@linkcode release}. */
  policy: "answer" | "unavailable" | "hold" = "answer";
  #held: UserRecordRequest[] = [];
  #memory = new MemoryStore(DEFAULT_SERVER_LIMITS);

  constructor(
    options: {
      limits?: Partial<ServerLimits>;
      seed?: number;
      chat?: ChatIdentity;
    },
  ) {
    this.server = new ServerState({
      random: seededBytes(options.seed ?? 1),
      limits: options.limits,
      store: "external",
      chat: options.chat,
    });
  }

  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.server.receiveDatagram(bytes, from, now);
    this.answer(now);
  }
  handleTimer(now: number): void {
    this.server.handleTimer(now);
    this.answer(now);
  }
  getTimer(): number | undefined {
    return this.server.getTimer();
  }
  datagramsToSend() {
    return this.server.datagramsToSend();
  }
  events(): OutputEvent[] {
    return this.server.events().map(describeServerEvent);
  }

  /** Answers what the core asked (call after poking the core directly). */
  answer(now: number): void {
    for (const r of this.server.storeRequests()) {
      this.server.handleStoreResult(this.#memory.apply(r), now);
    }
    for (const r of this.server.userRecordRequests()) {
      this.requests.push(r);
      if (this.policy === "hold") this.#held.push(r);
      else this.server.handleUserRecordResult(this.#apply(r), now);
    }
  }

  /** Answers the held requests, as the store does (or `unavailable`). */
  release(now: number, outcome?: "unavailable"): void {
    for (const r of this.#held.splice(0)) {
      this.server.handleUserRecordResult(
        outcome === undefined ? this.#apply(r) : {
          op: r.op,
          id: r.id,
          outcome: "unavailable",
        } as UserRecordResult,
        now,
      );
    }
    this.answer(now);
  }

  #apply(r: UserRecordRequest): UserRecordResult {
    if (this.policy === "unavailable") {
      return { op: r.op, id: r.id, outcome: "unavailable" } as UserRecordResult;
    }
    if (r.op === "delete") {
      this.kv.delete(r.name);
      return { op: "delete", id: r.id, outcome: "deleted" };
    }
    const merged = mergeUserRecord(r.record, this.kv.get(r.record.name));
    if (merged === undefined) return { op: "put", id: r.id, outcome: "taken" };
    this.kv.set(r.record.name, merged);
    return { op: "put", id: r.id, outcome: "saved" };
  }
}

interface Durable {
  net: FakeNet;
  core: DurableCore;
  join: (
    at: Address,
    options: {
      name: string;
      claim?: typeof OWNER;
      seed: number;
      keySeed?: number;
    },
  ) => ClientState;
}

function durable(
  options: {
    limits?: Partial<ServerLimits>;
    seed?: number;
    chat?: ChatIdentity;
  } = {},
): Durable {
  const net = new FakeNet();
  const core = new DurableCore(options);
  net.add(SERVER, core);
  const join: Durable["join"] = (at, o) => {
    const client = net.add(
      at,
      new ClientState({
        name: o.name,
        server: SERVER,
        random: seededBytes(o.seed),
        claim: o.claim,
        // Every client publishes an X25519 key (issue 14).
        agreement: agreementKeyFromSecret(
          new Uint8Array(32).fill(o.keySeed ?? o.seed),
        ),
      }),
    );
    client.start(net.now);
    net.step();
    net.run(1000);
    return client;
  };
  return { net, core, join };
}

function type(d: Durable, client: ClientState, line: string): void {
  client.command(line, d.net.now);
  d.net.step();
  d.net.run(1000);
}

const puts = (requests: UserRecordRequest[], name: string) =>
  requests.filter((r) => r.op === "put" && r.record.name === name) as Array<
    Extract<UserRecordRequest, { op: "put" }>
  >;

Deno.test("user records: a registration, a dereg and a name's expiry make put, put and delete requests", () => {
  const d = durable({ limits: { offlineNameTtlMs: DAY } });
  const at = clientAddr(1);
  const a = d.join(at, { name: "userA", seed: 1 });
  assertEquals(a.phase, "online");
  const [reg] = puts(d.core.requests, "userA");
  assertEquals(reg.claim, undefined, "an unclaimed put is best effort");
  assertEquals(reg.record.online, true);
  assertEquals(reg.record.address, at);
  assertEquals(reg.record.claim, undefined);
  assert(reg.record.agreementKey !== undefined, "its X25519 key is kept");

  type(d, a, "dereg userA");
  const off = puts(d.core.requests, "userA").at(-1)!;
  assertEquals(off.record.online, false);
  const wentOffline = off.record.lastSeen;
  assertEquals(d.core.kv.get("userA")?.online, false);

  d.net.run(DAY);
  assertEquals(d.core.server.table, []);
  assertEquals(d.core.requests.at(-1), {
    op: "delete",
    id: d.core.requests.at(-1)!.id,
    name: "userA",
  });
  assertEquals(d.core.kv.has("userA"), false);
  assert(d.net.now >= wentOffline + DAY);
});

Deno.test("user records: a first claim is welcomed only once its record is saved", () => {
  const d = durable();
  d.core.policy = "hold";
  const at = clientAddr(2);
  const n = d.join(at, { name: "userN", claim: OWNER, seed: 2 });
  // The claim waits for the store: no welcome, no row, the client retransmits.
  assertEquals(n.phase === "online", false);
  assertEquals(d.core.server.table, []);
  const [claim] = puts(d.core.requests, "userN");
  assertEquals(claim.claim, true);
  assertEquals(claim.record.claim?.key, OWNER.publicKey);
  assertEquals(puts(d.core.requests, "userN").length, 1, "asked once");
  // An unclaimed session trying the name meanwhile is not let in.
  const other = d.join(clientAddr(3), { name: "userN", seed: 3 });
  assertEquals(other.phase === "online", false);
  d.core.policy = "answer";
  d.core.release(d.net.now);
  d.net.step();
  d.net.run(2000);
  assertEquals(n.phase, "online");
  assertEquals(d.core.kv.get("userN")?.claim?.key, OWNER.publicKey);
  assertEquals(d.core.server.table.map((r) => [r[0], r[3], r[5]]), [
    ["userN", 1, 1],
  ]);
  assertEquals(other.exit?.reason, "name_in_use");
});

Deno.test("user records: a first claim the store cannot save is refused with one line, and the name stays free", () => {
  const d = durable();
  d.core.policy = "unavailable";
  const at = clientAddr(4);
  const n = d.join(at, { name: "userN", claim: OWNER, seed: 4 });
  assertEquals(n.exit?.reason, "registration_refused");
  assertEquals(
    d.net.lines(at).filter((l) => l.startsWith("[Registration refused")),
    ["[Registration refused: store unavailable.]"],
  );
  assertEquals(d.core.server.table, []);
  assertEquals(d.core.server.stats().dropped.user_record_unsaved, 1);
  // Nothing was bound or reserved: the name (and its skeleton) is free.
  d.core.policy = "answer";
  const later = d.join(clientAddr(5), { name: "userN", seed: 5 });
  assertEquals(later.phase, "online");
});

Deno.test("user records: a first claim of a name the store binds to another key is refused claimed", () => {
  const d = durable();
  // Another leader bound WRONG's key to userN; this core does not know it.
  d.core.kv.set("userN", {
    name: "userN",
    order: 0,
    address: clientAddr(9),
    online: false,
    lastSeen: d.net.now,
    claim: { key: WRONG.publicKey },
  });
  const at = clientAddr(6);
  const n = d.join(at, { name: "userN", claim: OWNER, seed: 6 });
  assertEquals(n.exit?.reason, "name_in_use");
  assert(d.net.lines(at).includes(REFUSED), d.net.lines(at).join("\n"));
  assertEquals(d.core.kv.get("userN")?.claim?.key, WRONG.publicKey);
  assertEquals(d.core.server.table, []);
});

Deno.test("user records: an unclaimed put never removes a claim the store holds", () => {
  const held: UserRecord = {
    name: "userN",
    order: 0,
    address: clientAddr(1),
    online: false,
    lastSeen: 1,
    agreementKey: "x1",
    claim: { key: OWNER.publicKey, agreementKey: "x1" },
  };
  const put: UserRecord = { ...held, claim: undefined, agreementKey: "x2" };
  delete put.claim;
  assertEquals(mergeUserRecord(put, held), {
    ...put,
    claim: held.claim,
    agreementKey: "x1",
  });
  assertEquals(
    mergeUserRecord({ ...held, claim: { key: WRONG.publicKey } }, held),
    undefined,
  );
  assertEquals(mergeUserRecord(held, undefined), held);
});

// A claimed userN and an unclaimed userB go Offline on leader 1; the records
// and a message saved for userN go to leader 2's fresh core.
function failover(): { d2: Durable; stored: number } {
  const d1 = durable({ seed: 1 });
  const n = d1.join(clientAddr(10), { name: "userN", claim: OWNER, seed: 10 });
  const b = d1.join(clientAddr(11), { name: "userB", seed: 11 });
  const j = d1.join(clientAddr(12), { name: "userJT", seed: 12 });
  assertEquals([n.phase, b.phase, j.phase], ["online", "online", "online"]);
  type(d1, n, "dereg userN");
  type(d1, b, "dereg userB");
  // userJT was Online when the leader died; its record says so.
  const d2 = durable({ seed: 2, limits: { offlineNameTtlMs: DAY } });
  d2.core.server.restoreUsers([...d1.core.kv.values()], d2.net.now);
  d2.core.server.restoreStored([{
    id: "x-1",
    to: "userN",
    from: "userJT",
    group: false,
    text: "secret for N",
    messageKey: "userJT:0102030405:1",
    savedAt: "2026-12-01 02:00:00",
  }], d2.net.now);
  return { d2, stored: 1 };
}

Deno.test("user records: restored users are Offline, in their order, with their claims and keys", () => {
  const { d2 } = failover();
  const rows = d2.core.server.table;
  assertEquals(rows.map((r) => [r[0], r[3]]), [
    ["userN", 0],
    ["userB", 0],
    ["userJT", 0],
  ]);
  assertEquals(rows[0][5], 1, "userN's row says claimed");
  assertEquals(rows[1][5], undefined);
  assert(rows.every((r) => typeof r[4] === "string"), "X25519 keys kept");
  assertEquals(d2.core.server.events(), [], "no console line for a restore");
  assertEquals(d2.core.server.stats().users, 3);
  assertEquals(d2.core.server.userRecordRequests(), []);
});

for (const impostor of [undefined, WRONG]) {
  Deno.test(
    `user records: after restoreUsers, ${
      impostor === undefined ? "an unclaimed session" : "a wrong passphrase"
    } cannot take the claimed Offline name and receives nothing`,
    () => {
      const { d2 } = failover();
      const at = clientAddr(20);
      const thief = d2.join(at, { name: "userN", claim: impostor, seed: 20 });
      assertEquals(thief.exit?.reason, "name_in_use");
      assert(d2.net.lines(at).includes(REFUSED), d2.net.lines(at).join("\n"));
      assert(!d2.net.lines(at).some((l) => l.includes("secret for N")));
      assertEquals(d2.core.server.table[0][3], 0);
    },
  );
}

Deno.test("user records: after restoreUsers, the owner with its key is welcomed at once and gets its stored message", () => {
  const { d2 } = failover();
  const at = clientAddr(30);
  // Its X25519 key comes from the passphrase too: the same as before.
  const back = d2.join(at, {
    name: "userN",
    claim: OWNER,
    seed: 30,
    keySeed: 10,
  });
  assertEquals(back.phase, "online");
  assert(
    d2.net.lines(at).some((l) =>
      l.startsWith("userJT: ") && l.endsWith("secret for N")
    ),
    d2.net.lines(at).join("\n"),
  );
  // The claim was restored: no compare-and-set put held the welcome.
  assertEquals(
    d2.core.requests.filter((r) => r.op === "put" && r.claim === true),
    [],
  );
  // An unclaimed restored name is free to an unclaimed session, as today.
  const b = d2.join(clientAddr(31), { name: "userB", seed: 31 });
  assertEquals(b.phase, "online");
});

Deno.test("user records: restored names expire from when they were last seen, those Online then from the restore", () => {
  const { d2 } = failover();
  const start = d2.net.now;
  // userN and userB went Offline on leader 1 (clock 1_700_000_000_000 +
  // a few seconds): d2's clock is the same, so they expire a day later;
  // userJT was Online, its clock starts now.
  d2.net.run(DAY - 60_000);
  assertEquals(d2.core.server.table.length, 3);
  d2.net.run(60_000);
  assertEquals(d2.core.server.table.map((r) => r[0]), []);
  assert(d2.net.now - start >= DAY);
  const deleted = d2.core.requests.filter((r) => r.op === "delete").map((r) =>
    r.op === "delete" ? r.name : ""
  ).sort();
  assertEquals(deleted, ["userB", "userJT", "userN"]);
});

Deno.test("user records: claiming a restored unclaimed name waits for the store too, and its refusal reaches the client", () => {
  const { d2 } = failover();
  d2.core.policy = "unavailable";
  const at = clientAddr(40);
  const claimer = d2.join(at, { name: "userB", claim: OWNER, seed: 40 });
  assertEquals(claimer.exit?.reason, "registration_refused");
  assert(
    d2.net.lines(at).includes("[Registration refused: store unavailable.]"),
    d2.net.lines(at).join("\n"),
  );
  assertEquals(d2.core.server.table[1].slice(0, 1), ["userB"]);
  assertEquals(d2.core.server.table[1][3], 0);
  // Once the store answers, the claim binds and is welcomed.
  d2.core.policy = "answer";
  const again = d2.join(clientAddr(41), {
    name: "userB",
    claim: OWNER,
    seed: 41,
  });
  assertEquals(again.phase, "online");
  assertEquals(d2.core.kv.get("userB")?.claim?.key, OWNER.publicKey);
});

Deno.test("user records: a transient session's record is not restored but deleted", () => {
  const d = durable();
  d.core.server.restoreUsers([{
    name: "bot",
    order: 0,
    address: clientAddr(1),
    online: true,
    lastSeen: d.net.now,
    transient: true,
  }], d.net.now);
  assertEquals(d.core.server.table, []);
  const requests = d.core.server.userRecordRequests();
  assertEquals(requests.map((r) => r.op === "delete" ? r.name : r.op), [
    "bot",
  ]);
});

Deno.test("user records: the in-memory store makes no request and holds no claim", () => {
  const net = new FakeNet();
  const server = net.add(
    SERVER,
    new ServerState({
      random: seededBytes(1),
      limits: { offlineNameTtlMs: DAY },
    }),
  );
  const n = net.add(
    clientAddr(1),
    new ClientState({
      name: "userN",
      server: SERVER,
      random: seededBytes(1),
      claim: OWNER,
    }),
  );
  n.start(net.now);
  net.step();
  net.run(1000);
  assertEquals(n.phase, "online");
  n.command("dereg userN", net.now);
  net.step();
  net.run(DAY + 1000);
  assertEquals(server.table, []);
  assertEquals(server.userRecordRequests(), []);
});

// Leader 1 of a chat has userA, userB and userC Online; userC has a message
// waiting (saved while it was briefly Offline is not possible here, so the
// store is handed one). Leader 2 restores what the store kept and takes
// leader 1's address: with the chat's identity (`same chat`) or without.
function handover(
  options: {
    sameChat: boolean;
    silent?: Address;
    nothingWaiting?: boolean;
    transientBot?: boolean;
  },
) {
  const chat = { ...newChatIdentity(seededBytes(99)), term: 1 };
  const d = durable({ seed: 1, chat });
  const a = d.join(clientAddr(1), { name: "userA", seed: 1 });
  const b = d.join(clientAddr(2), { name: "userB", seed: 2 });
  const c = d.join(clientAddr(3), { name: "userC", seed: 3 });
  assertEquals([a.phase, b.phase, c.phase], ["online", "online", "online"]);
  if (options.transientBot === true) {
    // An `--exec` session, Online in every table when the leader dies.
    const bot = d.net.add(
      clientAddr(4),
      new ClientState({
        name: "bot",
        server: SERVER,
        random: seededBytes(4),
        transient: true,
      }),
    );
    bot.start(d.net.now);
    d.net.step();
    d.net.run(1000);
    assertEquals(bot.phase, "online");
  }
  const lines = (at: Address) => d.net.lines(at).length;
  const before = [1, 2, 3].map((i) => lines(clientAddr(i)));
  const next = new DurableCore({
    seed: 2,
    chat: options.sameChat ? { ...chat, term: 2 } : undefined,
  });
  const kept = next.server.restore({
    users: [...d.core.kv.values()],
    messages: options.nothingWaiting === true ? [] : [{
      id: "x-1",
      to: "userC",
      from: "userA",
      group: false,
      text: "waiting for C",
      messageKey: "userA:0102030405:1",
      savedAt: "2026-12-01 02:00:00",
    }],
    journal: [],
  }, d.net.now);
  d.net.add(SERVER, next);
  const silent = options.silent;
  if (silent !== undefined) {
    // That client is cut off from now on (its node died; it is gone).
    d.net.filter = ({ from, to }) =>
      sameAddress(from, silent) || sameAddress(to, silent);
  }
  // Longer than one keepalive interval (at most 25 s).
  d.net.run(30_000);
  const after = (i: number) => d.net.lines(clientAddr(i)).slice(before[i - 1]);
  return { d, a, b, c, kept, next, after };
}

Deno.test("user records: a new leader of the same chat keeps the sessions of users Online; one with a message waiting registers again and gets it", () => {
  const { d, b, kept, next, after } = handover({ sameChat: true });
  assertEquals(kept, 2, "userA's and userB's sessions kept");
  // userA and userB: not a line about the server, and still Online.
  for (const i of [1, 2]) {
    assertEquals(
      after(i).filter((l) => /server|registering/i.test(l)),
      [],
      after(i).join("\n"),
    );
  }
  // userC had a message waiting: Offline on the new leader, its client
  // registers again by itself and gets it.
  assert(
    after(3).includes("[The server marked you Offline; registering again.]"),
    after(3).join("\n"),
  );
  assert(
    after(3).some((l) => l.endsWith("waiting for C")),
    after(3).join("\n"),
  );
  assertEquals(next.server.table.map((r) => [r[0], r[3]]), [
    ["userA", 1],
    ["userB", 1],
    ["userC", 1],
  ]);
  // The chat goes on, sealed under the chat's key, with no registration.
  const regs = next.server.stats().dropped;
  type(d, b, "send_all after the handover");
  assert(
    after(1).includes("Group Chat userB: after the handover"),
    after(1).join("\n"),
  );
  assert(after(2).includes("[Group Message received by Server.]"));
  assertEquals(next.server.stats().dropped.sealed, regs.sealed);
});

Deno.test("user records: a new leader of another chat (no shared identity) keeps no session: every client registers again", () => {
  const { kept, after } = handover({ sameChat: false });
  assertEquals(kept, 0);
  for (const i of [1, 2]) {
    assert(
      after(i).includes("[The server restarted; registered again.]"),
      after(i).join("\n"),
    );
  }
});

Deno.test("user records: a kept session is not sent to until its client is heard from, and goes Offline if it never is, what waited for it saved", () => {
  const { d, b, next } = handover({ sameChat: true, silent: clientAddr(1) });
  // 30 s after the handover, userA was never heard from: a message for it
  // waits (a delivery would have timed out in 0.5 s and marked it Offline
  // falsely while its client moved to another node).
  type(d, b, "send_all while userA is unheard");
  d.net.run(20_000);
  assertEquals(next.server.table[0].slice(0, 1), ["userA"]);
  assertEquals(next.server.table[0][3], 1, "userA still Online");
  assertEquals(next.server.stats().offlineMessages, 0);
  // userC got userA's stored message (it registered again): the notice to
  // userA is held for it, not sent down a path that may be dead.
  assertEquals(next.server.stats().held?.noticesHeld, 1);
  // Past the grace: userA is gone, the message saved for it.
  d.net.run(RESTORED_GRACE_MS);
  assertEquals(next.server.table[0][3], 0, "userA Offline");
  assertEquals(next.server.stats().offlineMessages, 1);
});

Deno.test("user records: a forged datagram from a kept session's address does not end the wait: no false Offline", () => {
  const { d, b, next } = handover({ sameChat: true, silent: clientAddr(1) });
  // userA's client is gone; someone forges plaintext from its address: a
  // `reg` of another name, and a keepalive with a made-up token.
  d.net.remove(clientAddr(1));
  d.net.filter = undefined;
  const forged = (m: Record<string, unknown>) =>
    new TextEncoder().encode(JSON.stringify({ v: 1, ...m }));
  d.net.inject(clientAddr(1), SERVER, forged({ t: "reg", id: 9, name: "zzz" }));
  d.net.inject(
    clientAddr(1),
    SERVER,
    forged({ t: "ka", id: 10, tok: "0".repeat(32) }),
  );
  type(d, b, "send_all after the forgery");
  d.net.run(20_000);
  assertEquals(next.server.table[0].slice(0, 1), ["userA"]);
  assertEquals(
    next.server.table[0][3],
    1,
    "userA still Online, still waited for",
  );
});

Deno.test("user records: when nothing waits for anyone, a new leader of the same chat changes nothing any client prints", () => {
  const { kept, next, after } = handover({
    sameChat: true,
    nothingWaiting: true,
  });
  assertEquals(kept, 3);
  // The new leader's table reaches every client (its versions are higher),
  // quietly: the same rows as before; not a partial table either.
  for (const i of [1, 2, 3]) assertEquals(after(i), [], `client ${i}`);
  assertEquals(next.server.table.map((r) => r[3]), [1, 1, 1]);
});

Deno.test("user records: a row the new leader does not bring back (a transient session's) is a change clients print", () => {
  // The bot's process is gone with the leader (cut off from now on).
  const { next, after } = handover({
    sameChat: true,
    nothingWaiting: true,
    transientBot: true,
    silent: clientAddr(4),
  });
  assertEquals(next.server.table.map((r) => r[0]), ["userA", "userB", "userC"]);
  for (const i of [1, 2, 3]) {
    assert(
      after(i).includes("[Client table updated.]"),
      `client ${i}: ${after(i).join("\n")}`,
    );
    assert(!after(i).some((l) => l.includes("'bot'")), after(i).join("\n"));
  }
});
