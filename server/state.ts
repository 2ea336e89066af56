/**
 * The server's rules as a sans-I/O state machine: datagrams, store results
 * and the current time go in; datagrams to send, store requests, typed
 * events and the next timer deadline come out. No sockets, no timers, no
 * clock.
 *
 * This file is the façade: it decodes, rate-limits, authenticates and
 * dispatches each datagram to the part whose job it is, and names the
 * timers. The parts, one file each: `admission.ts` (rate limits and the
 * unproven budget), `sessions.ts` (registration, tokens, going Offline), `response_cache.ts` (answers to repeats, the
 * amplification guard), `table_replication.ts` (the table to every client),
 * `relay.ts` (group fan-out, save-or-forward), `deliveries.ts` (per-user
 * queues), `stored_delivery.ts` (the offline list), `notices.ts` (what
 * became of a message), `offline_messages.ts` and `memory_store.ts` (the
 * offline store through its requests).
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import { decodeMessage } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import { type Machine, Outbox } from "../protocol/machine.ts";
import type {
  KeepaliveMessage,
  Message,
  Row,
  WhoMessage,
} from "../protocol/messages.ts";
import { Retransmitter } from "../protocol/reliable.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import { Admission } from "./admission.ts";
import { BOOT_ID_BYTES, COOKIE_KEY_BYTES } from "./constants.ts";
import { Deliveries } from "./deliveries.ts";
import type { ServerEvent } from "./events.ts";
import { DatagramIds, randomHex } from "./ids.ts";
import { MemoryStore } from "./memory_store.ts";
import { Notices } from "./notices.ts";
import { OfflineMessages } from "./offline_messages.ts";
import {
  DEFAULT_SERVER_LIMITS,
  type ServerLimits,
  type ServerOptions,
} from "./options.ts";
import { Relay, type Requester } from "./relay.ts";
import { ReliableSender } from "./reliable_sender.ts";
import { ResponseCache } from "./response_cache.ts";
import { Sessions } from "./sessions.ts";
import type {
  ServerDropReason,
  ServerStats,
  ServerStatsSnapshot,
} from "./stats.ts";
import type {
  JournalEntry,
  StoredMessage,
  StoreRequest,
  StoreResult,
} from "./store.ts";
import { StoredDelivery } from "./stored_delivery.ts";
import { TableReplication } from "./table_replication.ts";
import { ServerTransit, type TransitOptions } from "./transit.ts";
import type { User } from "./user.ts";
import {
  type UserRecord,
  type UserRecordRequest,
  type UserRecordResult,
  UserRecords,
} from "./user_records.ts";

export {
  DEFAULT_SERVER_LIMITS,
  type ServerLimits,
  type ServerOptions,
} from "./options.ts";
export type {
  ServerDropReason,
  ServerStats,
  ServerStatsSnapshot,
} from "./stats.ts";
export type { TransitMode, TransitOptions } from "./transit.ts";

// The shortest envelope a restarted server answers (a real one holds at
// least a small JSON request): its answer is then never 3 times larger.
const MIN_ANSWERED_ENVELOPE = 48;

/**
 * The udpchat server as a state machine.
 *
 * @example Usage
 * ```ts
 * import { ServerState } from "./state.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const server = new ServerState({ random: (n) => new Uint8Array(n) });
 * assertEquals(server.getTimer(), undefined);
 * assertEquals(server.datagramsToSend(), []);
 * ```
 */
export class ServerState implements Machine<ServerEvent> {
  #out = new Outbox();
  #events: ServerEvent[] = [];
  #retransmitter = new Retransmitter(this.#out);
  #admission: Admission;
  #deliveries: Deliveries;
  #stored: StoredDelivery;
  #stats: ServerStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmissions: 0,
    dropped: {},
  };
  #sessions: Sessions;
  #bootId: string;
  #responses: ResponseCache;
  #table: TableReplication;
  #relay: Relay;
  #offline: OfflineMessages;
  #transit: ServerTransit;
  #records: UserRecords;

  /**
   * Makes a server with no users, drawing its cookie key, id seed and boot id
   * from `options.random`.
   *
   * @param options Randomness, limits and where the offline store lives.
   */
  constructor(options: ServerOptions & TransitOptions) {
    const limits: ServerLimits = {
      ...DEFAULT_SERVER_LIMITS,
      ...options.limits,
    };
    const { random } = options;
    const cookieKey = random(COOKIE_KEY_BYTES);
    // The transit key pair comes from the cookie key's bytes through HKDF:
    // no more random bytes are drawn than before (protocol/transit_crypto.ts).
    const transit = new ServerTransit(cookieKey, {
      mode: options.transit ?? "sealed",
    });
    const ids = new DatagramIds(random);
    const bootId = randomHex(random, BOOT_ID_BYTES);
    const emit = (event: ServerEvent) => this.#events.push(event);
    const drop = (reason: ServerDropReason) => this.#drop(reason);
    const records = new UserRecords({
      store: options.store ?? "memory",
      responses: () => responses,
      drop,
    });
    const sessions: Sessions = new Sessions({
      random,
      bootId,
      cookieKey,
      maxUsers: limits.maxUsers,
      namesPerAddress: limits.namesPerAddress,
      offlineNameTtlMs: limits.offlineNameTtlMs,
      forgetStored: (name, now) => {
        for (const m of offline.list(name)) offline.delete(name, m.id, now);
      },
      namesPerHost: limits.namesPerHost,
      records,
      responses: () => responses,
      sender: () => sender,
      table: () => table,
      deliveries: () => deliveries,
      stored: () => stored,
      notices: () => notices,
      relay: () => relay,
      emit,
      drop,
      transitKey: transit.publicKey,
    });
    const responses = new ResponseCache({
      out: this.#out,
      isProven: (address) => sessions.isProven(address),
      drop,
    });
    const table: TableReplication = new TableReplication({
      retransmitter: this.#retransmitter,
      out: this.#out,
      ids,
      onlineCount: () => sessions.onlineCount,
      emit,
    });
    // A table change is never overtaken by what it caused (a delivery, a notice).
    const sender = new ReliableSender({
      retransmitter: this.#retransmitter,
      ids,
      flushTable: (now) => table.flushPending(now),
    });
    const lost = (user: User, now: number) =>
      sessions.goOffline(user, "lost", now);
    const offline = new OfflineMessages({
      bootId,
      memory: (options.store ?? "memory") === "memory"
        ? new MemoryStore(limits)
        : undefined,
    });
    const notices = new Notices({ sender, users: sessions });
    const deliveries = new Deliveries({
      sender,
      delivered: (user, d, now) => relay.delivered(user, d, now),
      held: (user, d, now) => {
        drop("held");
        relay.saveUndelivered(user, d, now);
      },
      lost,
    });
    const stored = new StoredDelivery({
      sender,
      offline,
      notices,
      lost,
      held: () => drop("held"),
    });
    const relay = new Relay({
      responses,
      users: sessions,
      deliveries,
      offline,
      notices,
      emit,
      pendingCount: () => this.#retransmitter.size,
      maxPending: limits.maxPending,
      limits,
      drop,
      writeAhead: (options.store ?? "memory") !== "memory",
    });
    this.#admission = new Admission({
      limits,
      onlineCount: () => sessions.onlineCount,
    });
    this.#sessions = sessions;
    this.#bootId = bootId;
    this.#responses = responses;
    this.#table = table;
    this.#relay = relay;
    this.#offline = offline;
    this.#records = records;
    this.#deliveries = deliveries;
    this.#stored = stored;
    this.#transit = transit;
  }

  /**
   * This server instance's boot id (hex): drawn at start, sent in every
   * welcome and keepalive answer, so that clients notice a restart.
   */
  get bootId(): string {
    return this.#bootId;
  }

  /** The users in registration order, as table rows. */
  get table(): Row[] {
    return this.#table.rows();
  }

  /** Counters of traffic and drops, plus gauges. */
  stats(): ServerStatsSnapshot {
    let online = 0;
    for (const u of this.#sessions.all()) if (u.online) online++;
    return {
      ...this.#stats,
      dropped: { ...this.#stats.dropped },
      retransmissions: this.#retransmitter.retransmissions,
      users: this.#sessions.size,
      online,
      offlineMessages: this.#offline.count,
      pending: this.#retransmitter.size,
    };
  }

  /** The one-line status the `stats` command prints. */
  statsLine(): string {
    return describeServerEvent({ type: "stats", stats: this.stats() }).text;
  }

  /** Handles one received datagram. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.#stats.datagramsIn++;
    this.#stats.bytesIn += bytes.length;
    // Validated traffic first (issue 13): what proved nothing is screened
    // before it is even decoded; a proven session has its fair share.
    const source = addressKey(from);
    const proven = this.#sessions.isProven(from);
    if (!proven) {
      const refused = this.#admission.screenUnproven(bytes, { source, now });
      if (refused !== undefined) return this.#drop(refused);
    }
    // Transit sealing (protocol/transit_crypto.ts): an envelope is opened
    // with its address's session; one that does not open changes nothing.
    const opened = this.#transit.open(bytes, source);
    if (!opened.ok) {
      this.#drop("sealed");
      // A client still sealing for a session this server does not know (it
      // restarted): told plainly, so that it registers again. Its request's
      // id is inside the envelope, so the answer names none (id 0).
      if (opened.why === "unkeyed" && bytes.length >= MIN_ANSWERED_ENVELOPE) {
        const boot = this.#bootId;
        this.#responses.answerOnce(
          from,
          { t: "err", id: 0, code: "not_registered", boot },
          { requestSize: bytes.length, now },
        );
      }
      return;
    }
    const decoded = decodeMessage(opened.bytes);
    const isAck = decoded.ok && decoded.message.t === "ack";
    if (proven && !isAck && !this.#admission.allowProven(source, now)) {
      return this.#drop("rate");
    }
    if (!decoded.ok) return this.#drop(decoded.reason);
    if (
      !opened.sealed && decoded.message.t !== "reg" &&
      this.#transit.keyed(source)
    ) {
      // Plaintext from a keyed session: only `reg` may be (it starts one).
      return this.#drop("plaintext");
    }
    this.#dispatch(decoded.message, { from, size: bytes.length, now });
  }

  /** Handles the timer: retransmissions, timeouts, then table flushes. */
  handleTimer(now: number): void {
    this.#retransmitter.poll(now);
    this.#table.handleTimer(now);
    const expiry = this.#sessions.nextExpiry;
    if (expiry !== undefined && expiry <= now) this.#sessions.expire(now);
  }

  /**
   * The next time {@linkcode handleTimer} must run, if any: the earliest of
   * the retransmission timer, the table's gathering timer and the expiry of
   * the oldest Offline name.
   */
  getTimer(): number | undefined {
    const deadlines = [
      this.#retransmitter.nextTimer(),
      this.#table.flushAt,
      this.#sessions.nextExpiry,
    ].filter((t) => t !== undefined);
    return deadlines.length === 0 ? undefined : Math.min(...deadlines);
  }

  /** Takes the datagrams to send. */
  datagramsToSend(): Datagram[] {
    const sessions = this.#sessions;
    const out = this.#transit.seal(
      this.#out.take(),
      (address) => sessions.userAt(address),
    );
    this.#stats.datagramsOut += out.length;
    for (const d of out) this.#stats.bytesOut += d.bytes.length;
    return out;
  }

  /** Takes the events produced since the last call. */
  events(): ServerEvent[] {
    return this.#events.splice(0);
  }

  /**
   * Takes the requests for an external offline store (`store: "external"`),
   * oldest first. Each is answered through {@linkcode handleStoreResult}.
   * Always empty with the in-memory store, which answers at once.
   */
  storeRequests(): StoreRequest[] {
    return this.#offline.takeRequests();
  }

  /**
   * Learns the outcome of a store request: a save's ACK or notice goes out
   * only now (`saved`), or its refusal (`full`, `unavailable`).
   */
  handleStoreResult(result: StoreResult, now: number): void {
    this.#offline.handleResult(result, now);
  }

  /**
   * Loads the messages a durable store kept across a restart: they are
   * delivered when their recipients register.
   *
   * @param messages The stored messages, oldest first per recipient.
   * @param _now The current time (ms).
   */
  restoreStored(messages: readonly StoredMessage[], _now: number): void {
    this.#offline.restore(messages);
  }

  /**
   * Recovers the group messages a server that died was fanning out (call
   * after {@linkcode restoreStored}, external store only): each journal
   * entry becomes stored copies for its recipients that have none, then is
   * deleted (server/journal.ts), through {@linkcode storeRequests}.
   *
   * @param entries The journal entries the store kept, oldest first.
   * @param now The current time (ms).
   */
  restoreJournal(entries: readonly JournalEntry[], now: number): void {
    this.#relay.recover(entries, now);
  }

  /**
   * Takes the requests for the durable user-record store (`store:
   * "external"`; see user_records.ts), oldest first. Each is answered
   * through {@linkcode handleUserRecordResult}. Always empty with the
   * in-memory store.
   */
  userRecordRequests(): UserRecordRequest[] {
    return this.#records.takeRequests();
  }

  /**
   * Learns the outcome of a user-record request: a first claim held for its
   * record is welcomed (`saved`) or refused (`claimed`, `store_unavailable`).
   */
  handleUserRecordResult(result: UserRecordResult, now: number): void {
    this.#records.handleResult(result, now);
  }

  /**
   * Brings back the users another leader left in the durable store: all
   * Offline, with their claims bound; they register again by themselves.
   * Call on a fresh core, before any datagram.
   *
   * @param records The stored user records.
   * @param now The current time (ms since the epoch).
   */
  restoreUsers(records: readonly UserRecord[], now: number): void {
    const quiet = this.#events.length;
    this.#sessions.restore(records, now);
    // Rows restored are not table changes anyone made: no console lines.
    this.#events.length = quiet;
  }

  #drop(reason: ServerDropReason): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
  }

  #dispatch(
    m: Message,
    datagram: { from: Address; size: number; now: number },
  ): void {
    const { from, size, now } = datagram;
    if (m.t === "ack") {
      // A chat part that arrived but whose message was not shown.
      if (m.r === "held") {
        this.#deliveries.held(m.id, from);
        this.#stored.held(m.id, from);
      }
      if (!this.#retransmitter.ack(m.id, from, now)) this.#drop("stray_ack");
      return;
    }
    if (m.t === "ka") return this.#onKeepalive(m, datagram);
    if (
      m.t !== "reg" && m.t !== "dereg" && m.t !== "all" && m.t !== "save" &&
      m.t !== "sync" && m.t !== "who"
    ) {
      return this.#drop("unexpected");
    }
    if (this.#responses.replay(from, m.id, now)) return;
    if (m.t === "reg") {
      return this.#sessions.register({ message: m, from, size }, now);
    }
    const user = this.#sessions.authenticate(m.tok, from);
    if (user === undefined) {
      this.#drop("unauthenticated");
      // Not cached: the same answer is made again for a repeat, and spoofed
      // sources cannot push real answers out of the cache.
      return this.#responses.answerOnce(
        from,
        { t: "err", id: m.id, code: "not_registered", boot: this.#bootId },
        { requestSize: size, now },
      );
    }
    const req: Requester = { user, from, size };
    switch (m.t) {
      case "dereg":
        return this.#sessions.deregister(req, m, now);
      case "all":
        return this.#relay.onGroupPart(req, m, now);
      case "save":
        return this.#relay.onSavePart(req, m, now);
      case "sync":
        return this.#onSync(req, m.id, now);
      case "who":
        return this.#onWho(req, m, now);
    }
  }

  // A client in a big room looks a user up (protocol/README.md, "Rooms"):
  // the row, kept fresh in its summaries from now on, or `unknown_user`.
  #onWho(req: Requester, m: WhoMessage, now: number): void {
    const row = this.#table.lookup(req.user, m.name);
    this.#responses.respond(
      req.from,
      row === undefined
        ? { t: "err", id: m.id, code: "unknown_user", name: m.name }
        : { t: "ack", id: m.id, rows: [row] },
      { requestSize: req.size, now },
    );
  }

  // A client's keepalive (protocol/README.md, "Keepalives"): one small
  // answer, never cached, never larger than the request, carrying the boot id
  // so that a client learns of a restart, of being forgotten or of being
  // marked Offline within one keepalive interval.
  #onKeepalive(
    m: KeepaliveMessage,
    datagram: { from: Address; size: number; now: number },
  ): void {
    const { from, size, now } = datagram;
    const user = this.#sessions.authenticate(m.tok, from);
    const boot = this.#bootId;
    const answer: Message = user === undefined
      ? { t: "err", id: m.id, code: "not_registered", boot }
      : user.online
      ? { t: "ack", id: m.id, boot }
      : { t: "err", id: m.id, code: "offline", boot };
    if (user === undefined) this.#drop("unauthenticated");
    this.#responses.answerOnce(from, answer, { requestSize: size, now });
  }

  // A client asks for a full table snapshot.
  #onSync(req: Requester, id: number, now: number): void {
    const answer = { requestSize: req.size, now };
    if (!req.user.online) {
      // We gave up on it; it is here after all and will register again.
      return this.#responses.respond(
        req.from,
        { t: "err", id, code: "offline" },
        answer,
      );
    }
    this.#responses.respond(req.from, { t: "ack", id }, answer);
    this.#table.requestSnapshot(req.user, now);
  }
}
