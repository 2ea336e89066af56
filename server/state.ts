/**
 * The server's rules as a sans-I/O state machine: datagrams, store results
 * and the current time go in; datagrams to send, store requests, typed
 * events and the next timer deadline come out. No sockets, no timers, no
 * clock.
 *
 * This file is the façade: it decodes, rate-limits, authenticates and
 * dispatches each datagram to the part whose job it is, and names the
 * timers. The parts, one file each, are made and wired in `parts.ts`:
 * `admission.ts` (rate limits and the unproven budget), `transit.ts`
 * (envelopes in and out), `user_index.ts` (users by name, token and
 * address), `sessions.ts` (registration), `going_offline.ts`,
 * `table_requests.ts` (`sync` and `who`),
 * `response_cache.ts` (answers to repeats, the amplification guard),
 * `table_replication.ts` (the table to every client), `group_relay.ts` and
 * `private_relay.ts` (group fan-out, save-or-forward), `deliveries.ts`
 * (per-user queues), `stored_delivery.ts` (the offline list), `notices.ts`
 * (what became of a message), `offline_messages.ts` and `memory_store.ts`
 * (the offline store through its requests), `user_records.ts` (users on a
 * durable store).
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import { decodeMessage } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import { type Machine, Outbox } from "../protocol/machine.ts";
import type { Message, Row } from "../protocol/messages.ts";
import { Retransmitter } from "../protocol/reliable.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";
import type { ServerEvent } from "./events.ts";
import type { ServerOptions } from "./options.ts";
import { restoreUsers } from "./leader_restore.ts";
import {
  authenticateRequest,
  keepaliveRequest,
  registerRequest,
} from "./session_gate.ts";
import { makeParts, type ServerParts } from "./parts.ts";
import type { Requester } from "./relay.ts";
import type {
  ServerDropReason,
  ServerStats,
  ServerStatsSnapshot,
} from "./stats.ts";
import type {
  JournalEntry,
  RestoredState,
  StoredMessage,
  StoreRequest,
  StoreResult,
} from "./store.ts";
import { type TransitOptions, unopenedAnswer } from "./transit.ts";
import type {
  UserRecord,
  UserRecordRequest,
  UserRecordResult,
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
  #stats: ServerStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmissions: 0,
    dropped: {},
  };
  #parts: ServerParts;

  /**
   * Makes a server with no users, drawing its cookie key, id seed and boot id
   * from `options.random`.
   *
   * @param options Randomness, limits and where the offline store lives.
   */
  constructor(options: ServerOptions & TransitOptions) {
    this.#parts = makeParts(options, {
      out: this.#out,
      retransmitter: this.#retransmitter,
      emit: (event) => this.#events.push(event),
      drop: (reason) => this.#drop(reason),
    });
  }

  /**
   * This server instance's boot id (hex): drawn at start, sent in every
   * welcome and keepalive answer, so that clients notice a restart.
   */
  get bootId(): string {
    return this.#parts.bootId;
  }

  /** The users in registration order, as table rows. */
  get table(): Row[] {
    return this.#parts.table.rows();
  }

  /** Counters of traffic and drops, plus gauges. */
  stats(): ServerStatsSnapshot {
    let online = 0;
    for (const u of this.#parts.users.all()) if (u.online) online++;
    return {
      ...this.#stats,
      dropped: { ...this.#stats.dropped },
      retransmissions: this.#retransmitter.retransmissions,
      users: this.#parts.users.size,
      online,
      offlineMessages: this.#parts.offline.count,
      pending: this.#retransmitter.size,
      held: this.#parts.held.gauges(),
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
    this.#parts.held.sweep(now);
    const { users, admission, transit } = this.#parts;
    // Validated traffic first (issue 13): what proved nothing is screened
    // before it is even decoded; a proven session has its fair share.
    const source = addressKey(from);
    const proven = users.isProven(from);
    if (!proven) {
      const refused = admission.screenUnproven(bytes, { source, now });
      if (refused !== undefined) return this.#drop(refused);
    }
    // Transit sealing (protocol/transit_crypto.ts): an envelope is opened
    // with its address's session; one that does not open changes nothing.
    const opened = transit.open(bytes, source);
    if (!opened.ok) {
      this.#drop("sealed");
      const size = bytes.length;
      const answer = unopenedAnswer(opened, { size, boot: this.#parts.bootId });
      if (answer === undefined) return;
      return this.#parts.responses.answerOnce(from, answer, {
        requestSize: size,
        now,
      });
    }
    const decoded = decodeMessage(opened.bytes);
    const isAck = decoded.ok && decoded.message.t === "ack";
    if (proven && !isAck && !admission.allowProven(source, now)) {
      return this.#drop("rate");
    }
    if (!decoded.ok) return this.#drop(decoded.reason);
    const { sealed } = opened;
    if (transit.refusesPlaintext(decoded.message.t, { sealed, source })) {
      // Plaintext from a keyed session: only `reg` may be (it starts one).
      return this.#drop("plaintext");
    }
    this.#dispatch(decoded.message, { from, size: bytes.length, now });
  }

  /** Handles the timer: retransmissions, timeouts, then table flushes. */
  handleTimer(now: number): void {
    this.#retransmitter.poll(now);
    this.#parts.held.sweep(now);
    this.#parts.table.handleTimer(now);
    const expiry = this.#parts.sessions.nextExpiry;
    if (expiry !== undefined && expiry <= now) this.#parts.sessions.expire(now);
    // Restored sessions never heard from: gone, as any silent client.
    for (const user of this.#parts.restored.expire(now)) {
      if (user.online) this.#parts.sessions.goOffline(user, "lost", now);
    }
  }

  /**
   * The next time {@linkcode handleTimer} must run, if any: the earliest of
   * the retransmission timer, the table's gathering timer, the expiry of
   * the oldest Offline name, the held-state sweep and the deadline of
   * restored sessions not heard from.
   */
  getTimer(): number | undefined {
    const deadlines = [
      this.#retransmitter.nextTimer(),
      this.#parts.table.flushAt,
      this.#parts.sessions.nextExpiry,
      this.#parts.held.sweepAt,
      this.#parts.restored.deadline,
    ].filter((t) => t !== undefined);
    return deadlines.length === 0 ? undefined : Math.min(...deadlines);
  }

  /** Takes the datagrams to send. */
  datagramsToSend(): Datagram[] {
    const users = this.#parts.users;
    const out = this.#parts.transit.seal(
      this.#out.take(),
      (address) => users.userAt(address),
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
    return this.#parts.offline.takeRequests();
  }

  /**
   * Learns the outcome of a store request: a save's ACK or notice goes out
   * only now (`saved`), or its refusal (`full`, `unavailable`).
   */
  handleStoreResult(result: StoreResult, now: number): void {
    this.#parts.offline.handleResult(result, now);
  }

  /**
   * Loads the messages a durable store kept across a restart: they are
   * delivered when their recipients register.
   *
   * @param messages The stored messages, oldest first per recipient.
   * @param _now The current time (ms).
   */
  restoreStored(messages: readonly StoredMessage[], _now: number): void {
    this.#parts.offline.restore(messages);
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
    this.#parts.relay.recover(entries, now);
  }

  /**
   * Takes the requests for the durable user-record store (`store:
   * "external"`; see user_records.ts), oldest first. Each is answered
   * through {@linkcode handleUserRecordResult}. Always empty with the
   * in-memory store.
   */
  userRecordRequests(): UserRecordRequest[] {
    return this.#parts.records.takeRequests();
  }

  /**
   * Learns the outcome of a user-record request: a first claim held for its
   * record is welcomed (`saved`) or refused (`claimed`, `store_unavailable`).
   */
  handleUserRecordResult(result: UserRecordResult, now: number): void {
    this.#parts.records.handleResult(result, now);
  }

  /**
   * Brings back the users another leader left in the durable store, with
   * their claims bound (leader_restore.ts): on a leader of the same chat
   * (option `chat`), those Online with a session token and no stored
   * message waiting (restore those first) come back Online with that
   * session; the others come back Offline and their clients register again
   * by themselves. Call on a fresh core, before any datagram;
   * {@linkcode restore} does it all in order.
   *
   * @param records The stored user records.
   * @param now The current time (ms since the epoch).
   * @returns The number of sessions kept.
   */
  restoreUsers(records: readonly UserRecord[], now: number): number {
    const quiet = this.#events.length;
    const kept = restoreUsers(this.#parts, records, { now });
    // Rows restored are not table changes anyone made: no console lines.
    this.#events.length = quiet;
    return kept;
  }

  /**
   * Everything a new leader restores, in order: stored messages, users
   * (sessions kept where no stored message waits for them), then the
   * journal (stored copies, or live deliveries to sessions kept).
   *
   * @param state What the durable store kept.
   * @param now The current time (ms since the epoch).
   * @returns The number of users brought back Online with their sessions.
   */
  restore(state: RestoredState, now: number): number {
    this.restoreStored(state.messages, now);
    const online = this.restoreUsers(state.users, now);
    // Copies for the recipients Offline now, live for those kept Online.
    this.restoreJournal(state.journal, now);
    return online;
  }

  #drop(reason: ServerDropReason): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
  }

  #dispatch(
    m: Message,
    datagram: { from: Address; size: number; now: number },
  ): void {
    const { from, size, now } = datagram;
    const { responses, sessions, relay, tableRequests } = this.#parts;
    if (m.t === "ack") {
      // A chat part that arrived but whose message was not shown.
      if (m.r === "held") {
        this.#parts.deliveries.held(m.id, from);
        this.#parts.stored.held(m.id, from);
      }
      if (!this.#retransmitter.ack(m.id, from, now)) this.#drop("stray_ack");
      return;
    }
    const gate = {
      from,
      size,
      now,
      drop: (r: ServerDropReason) => this.#drop(r),
    };
    if (m.t === "ka") return keepaliveRequest(this.#parts, m, gate);
    if (
      m.t !== "reg" && m.t !== "dereg" && m.t !== "all" && m.t !== "save" &&
      m.t !== "sync" && m.t !== "who"
    ) {
      return this.#drop("unexpected");
    }
    if (responses.replay(from, m.id, now)) return;
    if (m.t === "reg") return registerRequest(this.#parts, m, gate);
    const user = authenticateRequest(this.#parts, m, gate);
    if (user === undefined) return;
    const req: Requester = { user, from, size };
    switch (m.t) {
      case "dereg":
        return sessions.deregister(req, m, now);
      case "all":
        return relay.onGroupPart(req, m, now);
      case "save":
        return relay.onSavePart(req, m, now);
      case "sync":
        return tableRequests.sync(req, m.id, now);
      case "who":
        return tableRequests.who(req, m, now);
    }
  }
}
