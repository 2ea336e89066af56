/**
 * Nothing lost when a server dies, simulated: the real server and client
 * cores on a seeded fake network that loses, duplicates and reorders
 * datagrams, with a fake clock, over many seeds, while the server is
 * restarted at random moments.
 *
 * A restart replaces the server core by a fresh {@linkcode ServerState}
 * (another boot id; users, sessions, deliveries under way are gone), as a
 * process killed and started again on the same port. Its offline store lives
 * outside the core, as a durable store does: a {@linkcode MemoryStore}
 * reached through `store: "external"`, `storeRequests()` and
 * `handleStoreResult()`, its answers arriving a few ms later; a write under
 * way at a crash may or may not have been made, and its answer is lost. The
 * fresh core gets what the store kept through `restoreStored()`. Clients use
 * a 1 s keepalive.
 *
 * A variant has a second server address: clients run with `failover` set
 * to it, and the first address dies for good mid-run; the second node
 * starts with a fresh core and the same store.
 *
 * With sessions kept (a NATS-backed chat, server/chat_identity.ts), the
 * user records live in the store too, and every new core leads the same
 * chat with the next term and restores them (`restore()`): clients keep
 * their sessions, and none ever prints that the server restarted.
 *
 * What must hold (issue "Nothing lost when a server dies"): every message a
 * user sent is shown exactly once by each recipient (live, or from its
 * offline list after `reg`), or its sender was told it was not (no ACK,
 * saved, refused, abandoned); what the sender was told was saved or received
 * is shown; nothing is shown twice; and every client, with nothing typed,
 * ends registered with the last server. A group message's recipients are the
 * users the server that took it knew at that moment (a fresh in-memory core
 * knows only those registered again since).
 */
import type { Address } from "../protocol/address.ts";
import { decodeMessage } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import { MemoryStore } from "../server/memory_store.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/options.ts";
import { ServerState } from "../server/state.ts";
import type { StoreRequest, StoreResult } from "../server/store.ts";
import { type ChatIdentity, newChatIdentity } from "../server/chat_identity.ts";
import {
  mergeUserRecord,
  type UserRecord,
  type UserRecordResult,
} from "../server/user_records.ts";
import { assert, assertEquals } from "./_assert.ts";
import { ClientState } from "./_client.ts";
import { clientAddr, FakeNet, type Node, prng, seededBytes } from "./_sim.ts";

const NAMES = ["ann", "bob", "cat", "dan", "eve"];
const ROUNDS = 14;
const KEEPALIVE_MS = 1_000;
/** How long after a message is typed a crash may cut its deliveries, in ms. */
const CUT_MS = 3_000;
const S1: Address = { hostname: "127.0.0.1", port: 5000 };
const S2: Address = { hostname: "127.0.0.1", port: 5001 };

/** What a chat whose sessions are kept shares across its cores. */
interface KeptSessions {
  /** The user records, as the KV bucket keeps them. */
  users: Map<string, UserRecord>;
  /** The chat's identity, with the last term taken. */
  chat: ChatIdentity;
  /** Sessions the cores kept, in all. */
  kept: number;
}

/** A server process on one address: a core, replaceable, and its store. */
class ServerProcess implements Node {
  core!: ServerState;
  /** How many cores this address has had. */
  generation = 0;
  /** Names the core knew when it took each group message, by message key. */
  readonly groupRecipients: Map<string, Set<string>>;
  #store: MemoryStore;
  #random: () => number;
  #seed: number;
  #answers: (
    | { at: number; result: StoreResult }
    | { at: number; user: UserRecordResult }
  )[] = [];
  #sessions: KeptSessions | undefined;
  #events: OutputEvent[] = [];
  #queued: Datagram[] = [];
  /** `generation/key` of the group messages a core took. */
  #taken = new Set<string>();
  /** Group messages received (`port/id`): their key, and who was known. */
  #asked = new Map<string, { k: string; names: string[] }>();

  constructor(
    options: {
      store: MemoryStore;
      seed: number;
      groupRecipients: Map<string, Set<string>>;
      sessions?: KeptSessions;
    },
    now: number,
  ) {
    this.#store = options.store;
    this.#sessions = options.sessions;
    this.#seed = options.seed;
    this.#random = prng(options.seed);
    this.groupRecipients = options.groupRecipients;
    this.restart(now);
  }

  /**
   * A crash and a new process: a fresh core (new boot id), with what the
   * store kept. A write under way may or may not have been made; its answer
   * is lost.
   */
  restart(now: number): void {
    // The store made each write when it was asked (see #pump); the answers
    // under way die with the process.
    this.#answers = [];
    this.#queued = [];
    this.#asked.clear();
    this.generation++;
    const sessions = this.#sessions;
    if (sessions !== undefined) sessions.chat.term++;
    this.core = new ServerState({
      random: seededBytes(this.#seed * 131 + this.generation),
      store: "external",
      chat: sessions === undefined ? undefined : { ...sessions.chat },
    });
    const kept = NAMES.flatMap((n) => this.#store.list(n));
    if (sessions !== undefined) {
      sessions.kept += this.core.restore({
        messages: kept,
        users: [...sessions.users.values()],
        journal: this.#store.journal(),
      }, now);
    } else {
      this.core.restoreStored(kept, now);
      // The group messages the dead core was fanning out (server/journal.ts).
      this.core.restoreJournal(this.#store.journal(), now);
    }
    this.#pump(now);
  }

  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    const d = decodeMessage(bytes);
    if (d.ok && d.message.t === "all") {
      // A group message is fanned out to the users this core knows when it
      // takes the message, once the store has its journal entry; its ACK
      // says it was taken (see #collect).
      const { id, k } = d.message;
      const at = `${from.port}/${id}`;
      if (!this.#asked.has(at)) {
        this.#asked.set(at, { k, names: this.core.table.map((r) => r[0]) });
      }
    }
    this.core.receiveDatagram(bytes, from, now);
    this.#collect();
    this.#pump(now);
  }

  handleTimer(now: number): void {
    const due = this.#answers.filter((a) => a.at <= now);
    this.#answers = this.#answers.filter((a) => a.at > now);
    for (const a of due) {
      if ("user" in a) this.core.handleUserRecordResult(a.user, now);
      else this.core.handleStoreResult(a.result, now);
    }
    const t = this.core.getTimer();
    if (t !== undefined && t <= now) this.core.handleTimer(now);
    this.#collect();
    this.#pump(now);
  }

  // Takes the core's datagrams. The first copy of a group message this core
  // ACKs was fanned out to the users it knew when it took it; a copy a
  // fresh core takes is fanned out again. (The sender is among them; it is
  // left out when checking.)
  #collect(): void {
    const out = this.core.datagramsToSend();
    this.#queued.push(...out);
    for (const o of out) {
      const r = decodeMessage(o.bytes);
      if (!r.ok || r.message.t !== "ack") continue;
      const asked = this.#asked.get(`${o.to.port}/${r.message.id}`);
      if (asked === undefined) continue;
      const key = `${this.generation}/${asked.k}`;
      if (this.#taken.has(key)) continue;
      this.#taken.add(key);
      const set = this.groupRecipients.get(asked.k) ?? new Set();
      for (const name of asked.names) set.add(name);
      this.groupRecipients.set(asked.k, set);
    }
  }

  getTimer(): number | undefined {
    let t = this.core.getTimer();
    for (const a of this.#answers) if (t === undefined || a.at < t) t = a.at;
    return t;
  }

  datagramsToSend(): Datagram[] {
    this.#collect();
    return this.#queued.splice(0);
  }

  events(): OutputEvent[] {
    this.#events.push(...this.core.events().map(describeServerEvent));
    return this.#events.splice(0);
  }

  // The store does what it is asked at once (durably); its answer reaches
  // the core 1 to 20 ms later, unless the core dies first.
  #pump(now: number): void {
    for (const request of this.core.storeRequests()) {
      const result = this.#store.apply(request as StoreRequest);
      this.#answers.push({
        at: now + 1 + Math.floor(this.#random() * 20),
        result,
      });
    }
    // User records, as the KV bucket keeps them (runtime/nats_users.ts).
    for (const r of this.core.userRecordRequests()) {
      const users = this.#sessions?.users;
      if (users === undefined) continue;
      let user: UserRecordResult;
      if (r.op === "delete") {
        users.delete(r.name);
        user = { op: "delete", id: r.id, outcome: "deleted" };
      } else {
        const merged = mergeUserRecord(r.record, users.get(r.record.name));
        if (merged !== undefined) users.set(r.record.name, merged);
        user = {
          op: "put",
          id: r.id,
          outcome: merged === undefined ? "taken" : "saved",
        };
      }
      this.#answers.push({
        at: now + 1 + Math.floor(this.#random() * 20),
        user,
      });
    }
  }
}

/** One printed line, tagged with the message key of what caused it. */
interface Line {
  /** When it was printed (fake clock, ms). */
  at: number;
  text: string;
  event: string;
  k?: string;
}

/** A client whose every line is logged with the key of its cause. */
class Tap implements Node {
  readonly lines: Line[] = [];
  /** Message text → key, for the messages this client sent. */
  readonly keyOf = new Map<string, string>();
  #keys = new Map<number, string>();
  #ready: OutputEvent[] = [];
  #now = 0;

  constructor(readonly name: string, readonly state: ClientState) {}

  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.#now = now;
    this.state.receiveDatagram(bytes, from, now);
    const d = decodeMessage(bytes);
    let k: string | undefined;
    if (d.ok) {
      const m = d.message;
      if (m.t === "note") k = m.ref;
      else if (m.t === "ack" || m.t === "err") k = this.#keys.get(m.id);
      else if (m.t === "msg") k = m.k;
    }
    this.#take(k);
  }

  handleTimer(now: number): void {
    this.#now = now;
    this.state.handleTimer(now);
    this.#take(undefined);
  }

  getTimer(): number | undefined {
    return this.state.getTimer();
  }

  datagramsToSend(): Datagram[] {
    const out = this.state.datagramsToSend();
    for (const d of out) {
      const r = decodeMessage(d.bytes);
      if (!r.ok) continue;
      const m = r.message;
      if (m.t === "msg" || m.t === "save" || m.t === "all") {
        this.#keys.set(m.id, m.k);
        if (m.t !== "msg" || m.from === this.name) this.keyOf.set(m.text, m.k);
      }
    }
    return out;
  }

  events(): OutputEvent[] {
    this.#take(undefined);
    return this.#ready.splice(0);
  }

  #take(k: string | undefined): void {
    for (const e of this.state.events()) {
      this.lines.push({ at: this.#now, text: e.text, event: e.event, k });
      this.#ready.push(e);
    }
  }
}

interface Sent {
  /** When it was typed (fake clock, ms). */
  at: number;
  text: string;
  from: string;
  to: string[];
  group: boolean;
}

const LIVE = /^(\S+): (m-\S+)$/;
const GROUP = /^Group Chat (\S+): (m-\S+)$/;
const OFFLINE = /^(Group_Chat:)?(\S+): \d\d:\d\d:\d\d (m-\S+)$/;
/** Lines that tell a sender its message, or part of it, did not get through. */
const TOLD_NOT = new Set([
  "no_ack",
  "saved",
  "saved_for",
  "not_saved",
  "unknown_user",
  "request_refused",
  "server_full",
  "too_big",
]);

interface Totals {
  sent: number;
  shown: number;
  restarts: number;
  recovered: number;
  /** Recipients a message was lost for because a crash cut its delivery. */
  cut: number;
  /** `[The server restarted; registered again.]` lines. */
  restartLines: number;
  /** Sessions the new cores kept. */
  kept: number;
}

/**
 * One seeded run.
 *
 * @param options `failover`: a second address, which takes over for good
 *   when the first dies mid-run.
 */
function run(
  seed: number,
  options: { failover: boolean; sessions: boolean },
): Totals {
  const net = new FakeNet({ loss: 0.1, duplicate: 0.05, jitter: 50, seed });
  const random = prng(seed * 7 + 3);
  const t0 = net.now;
  const store = new MemoryStore(DEFAULT_SERVER_LIMITS);
  const groupRecipients = new Map<string, Set<string>>();
  const sessions: KeptSessions | undefined = options.sessions
    ? {
      users: new Map(),
      chat: newChatIdentity(seededBytes(seed * 3 + 1)),
      kept: 0,
    }
    : undefined;
  let server = net.add(
    S1,
    new ServerProcess({ store, seed, groupRecipients, sessions }, net.now),
  );
  let restarts = 0;
  const restartTimes: number[] = [];
  const taps = new Map<string, Tap>();
  NAMES.forEach((name, i) => {
    const tap = new Tap(
      name,
      new ClientState({
        name,
        server: S1,
        failover: options.failover ? [S2] : undefined,
        random: seededBytes(seed * 100 + i),
        keepaliveMs: KEEPALIVE_MS,
      }),
    );
    net.add(clientAddr(i), tap);
    taps.set(name, tap);
    tap.state.start(net.now);
    net.step();
    net.run(100);
  });
  net.run(2_000);
  const type = (name: string, line: string) => {
    taps.get(name)!.state.command(line, net.now);
    net.step();
  };

  // When the first address dies for good (failover variant).
  const deathRound = 3 + Math.floor(random() * (ROUNDS - 6));
  let deathAt = Infinity;
  const sent: Sent[] = [];
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const crashAt = random() < 0.35 ? Math.floor(random() * NAMES.length) : -1;
    for (const [i, from] of NAMES.entries()) {
      if (i === crashAt) {
        server.restart(net.now);
        restarts++;
        restartTimes.push(net.now);
      }
      if (options.failover && round === deathRound && i === 0) {
        // The first address dies for good; the second node starts, with a
        // fresh core and the same store.
        net.remove(S1);
        restartTimes.push(net.now);
        deathAt = net.now;
        server = net.add(
          S2,
          new ServerProcess(
            { store, seed: seed + 9_999, groupRecipients, sessions },
            net.now,
          ),
        );
        restarts++;
      }
      const text = `m-${seed}-${n++}`;
      if ((round + i) % 4 === 0) {
        type(from, `send_all ${text}`);
        sent.push({ at: net.now, text, from, to: [], group: true });
      } else {
        const to = NAMES[(i + 1 + round) % NAMES.length];
        type(from, `send ${to} ${text}`);
        sent.push({ at: net.now, text, from, to: [to], group: false });
      }
      net.run(20 + Math.floor(random() * 200));
    }
    net.run(300);
  }

  // Nothing typed: within a keepalive interval or two everyone is back.
  net.run(6 * KEEPALIVE_MS);
  if (
    options.failover &&
    [...taps.values()].some((t) =>
      t.lines.some((l) => l.event === "server_switched" && l.at < deathAt)
    )
  ) {
    // A model limit: the second node only exists from the death on (a real
    // one would be a follower all along), so a client that lost two
    // keepalives in a row and moved to it earlier found nobody there.
    return {
      sent: 0,
      shown: 0,
      restarts,
      recovered: 0,
      cut: 0,
      restartLines: 0,
      kept: 0,
    };
  }
  const where = `seed ${seed}${options.failover ? " (failover)" : ""}${
    options.sessions ? " (sessions kept)" : ""
  }`;
  for (const [name, tap] of taps) {
    assertEquals(
      tap.state.phase,
      "online",
      `${where}: ${name} online; restarts at ${
        restartTimes.map((t) => `+${t - t0}`).join(" ")
      }; its lines:\n${
        tap.lines.slice(-25).map((l) => `+${l.at - t0} ${l.text}`).join("\n")
      }`,
    );
  }
  const online = server.core.table.filter((r) => r[3] === 1).map((r) => r[0]);
  assertEquals(
    online.toSorted(),
    [...NAMES].toSorted(),
    `${where}: everyone registered with the last server (its table ${
      JSON.stringify(server.core.table.map((r) => r.slice(0, 4)))
    }, drops ${JSON.stringify(server.core.stats().dropped)}); restarts at ${
      restartTimes.map((t) => `+${t - t0}`).join(" ")
    }; the others' lines:\n${
      NAMES.filter((n) => !online.includes(n)).map((n) =>
        `${n}:\n` +
        taps.get(n)!.lines.slice(-25).map((l) => `+${l.at - t0} ${l.text}`)
          .join("\n")
      ).join("\n")
    }`,
  );

  // Everyone registers again until everything stored was delivered.
  for (let tries = 0; tries < 6; tries++) {
    for (const name of NAMES) type(name, `reg ${name}`);
    net.run(10_000);
    if (store.count === 0 && server.core.stats().offlineMessages === 0) break;
  }
  net.run(10_000);
  assertEquals(store.count, 0, `${where}: store empty`);
  assertEquals(store.journal(), [], `${where}: journal empty`);

  // Every showing of a message, by text and recipient.
  const shows = new Map<string, string[]>();
  let shown = 0;
  for (const tap of taps.values()) {
    for (const l of tap.lines) {
      const m = (l.event === "message" && LIVE.exec(l.text)) ||
        (l.event === "group_message" && GROUP.exec(l.text));
      const o = l.event === "offline_message" && OFFLINE.exec(l.text);
      const text = m ? m[2] : o ? o[3] : undefined;
      if (text === undefined) continue;
      shows.set(text, [...(shows.get(text) ?? []), tap.name]);
      shown++;
    }
  }
  const recovered = [...taps.values()].reduce(
    (a, t) =>
      a +
      t.lines.filter((l) =>
        l.event === "server_restarted" || l.event === "rejoin"
      ).length,
    0,
  );

  let cut = 0;
  for (const m of sent) {
    const by = taps.get(m.from)!;
    const k = by.keyOf.get(m.text);
    const what = `${where}: ${m.text} ${m.from} -> ${
      m.group ? "all" : m.to[0]
    }`;
    const mine = by.lines.filter((l) => k !== undefined && l.k === k);
    const abandoned = by.lines.some((l) =>
      l.event === "abandoned" && l.text.includes(m.text)
    );
    const seen = shows.get(m.text) ?? [];
    const to = m.group
      ? [...(groupRecipients.get(k ?? "") ?? [])].filter((r) => r !== m.from)
      : m.to;
    for (const name of seen) {
      assert(
        m.group ? name !== m.from : to.includes(name),
        `${what}: shown by ${name}`,
      );
    }
    for (const r of new Set(seen)) {
      assertEquals(
        seen.filter((x) => x === r).length,
        1,
        `${what}: shown twice by ${r}`,
      );
    }
    if (k === undefined) {
      assert(abandoned, `${what}: never sent, sender not told`);
      continue;
    }
    const toldNot = (r: string) =>
      abandoned || mine.some((l) =>
        TOLD_NOT.has(l.event) &&
        (l.event !== "no_ack" || l.text.includes(` ${r},`))
      );
    // Once a gap (issue 10): a message the server took (ACKed) was not
    // written to the store until a delivery failed, so a crash while its
    // deliveries were under way lost it for the recipients not yet reached.
    // Now it is written ahead (server/journal.ts). Such a loss, a crash
    // within CUT_MS of the message being typed, is counted apart, and the
    // tests require none; any other loss fails here.
    const cutByCrash = restartTimes.some((t) => t >= m.at && t - m.at < CUT_MS);
    for (const r of to) {
      if (!seen.includes(r) && !toldNot(r) && cutByCrash) {
        cut++;
        continue;
      }
      if (!seen.includes(r)) {
        assert(
          toldNot(r),
          `${what}: silently lost for ${r}; ${m.from} saw:\n${
            mine.map((l) => `${l.event}: ${l.text}`).join("\n")
          }\n${r} saw:\n${
            taps.get(r)!.lines.filter((l) => Math.abs(l.at - m.at) < 3000)
              .map((l) => `+${l.at - t0} ${l.text}`).join("\n")
          }\ntyped at +${m.at - t0}, restarts at ${
            restartTimes.map((t) => `+${t - t0}`).join(" ")
          }`,
        );
      }
    }
    // What the sender was told arrived or was saved is shown.
    for (const l of mine) {
      if (l.event === "received" && !m.group) {
        assert(seen.includes(m.to[0]), `${what}: received, never shown`);
      }
      if (l.event === "saved" && !m.group) {
        assert(seen.includes(m.to[0]), `${what}: saved, never shown`);
      }
    }
    if (m.group) {
      for (const l of mine.filter((l) => l.event === "no_ack")) {
        const r = /^\[No ACK from (\S+),/.exec(l.text)![1];
        const savedToo = mine.some((s) =>
          s.event === "saved_for" && s.text.includes(` ${r}`)
        ) || mine.some((s) =>
          s.event === "saved_for"
        );
        if (savedToo && !mine.some((s) => s.event === "not_saved")) {
          assert(seen.includes(r), `${what}: saved for ${r}, never shown`);
        }
      }
    }
  }
  const restartLines = [...taps.values()].reduce(
    (a, t) => a + t.lines.filter((l) => l.event === "server_restarted").length,
    0,
  );
  return {
    sent: sent.length,
    shown,
    restarts,
    recovered,
    cut,
    restartLines,
    kept: sessions?.kept ?? 0,
  };
}

function runMany(
  seeds: number,
  options: { failover: boolean; sessions?: boolean },
): Totals {
  const totals: Totals = {
    sent: 0,
    shown: 0,
    restarts: 0,
    recovered: 0,
    cut: 0,
    restartLines: 0,
    kept: 0,
  };
  for (let seed = 1; seed <= seeds; seed++) {
    const r = run(seed, {
      failover: options.failover,
      sessions: options.sessions === true,
    });
    for (const key of Object.keys(totals) as (keyof Totals)[]) {
      totals[key] += r[key];
    }
  }
  return totals;
}

Deno.test("server restarts at random moments, a durable store outside the core: nothing silently lost or shown twice, everyone back by itself", () => {
  const t = runMany(150, { failover: false });

  assertEquals(t.cut, 0, "lost because a crash cut its delivery");
  assert(t.restarts >= 300, `${t.restarts} restarts`);
  assert(t.recovered >= t.restarts, `${t.recovered} recoveries`);
  assert(t.shown >= t.sent, `${t.shown} shown of ${t.sent}`);
});

Deno.test("the first server address dies for good: clients with failover move to the second and nothing is silently lost", () => {
  const t = runMany(100, { failover: true });
  assertEquals(t.cut, 0, "lost because a crash cut its delivery");
  assert(t.sent >= 2_000, `${t.sent} messages in seeds that ran`);
  assert(t.recovered > 0, `${t.recovered} recoveries`);
  assert(t.shown >= t.sent, `${t.shown} shown of ${t.sent}`);
});

Deno.test("sessions kept (a NATS-backed chat): cores restarted at random lead the same chat; nothing silently lost or shown twice, and no client ever registers again because of a restart", () => {
  const t = runMany(100, { failover: false, sessions: true });
  assertEquals(t.cut, 0, "lost because a crash cut its delivery");
  assert(t.restarts >= 200, `${t.restarts} restarts`);
  assert(t.kept >= t.restarts, `${t.kept} sessions kept`);
  assertEquals(t.restartLines, 0, "a client told the server restarted");
  assert(t.shown >= t.sent, `${t.shown} shown of ${t.sent}`);
});

Deno.test("sessions kept, the first address dies for good: clients move to the second node with their sessions, nothing silently lost", () => {
  const t = runMany(60, { failover: true, sessions: true });
  assertEquals(t.cut, 0, "lost because a crash cut its delivery");
  assert(t.sent >= 1_000, `${t.sent} messages in seeds that ran`);
  assert(t.kept > 0, `${t.kept} sessions kept`);
  assertEquals(t.restartLines, 0, "a client told the server restarted");
});
