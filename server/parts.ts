/**
 * The server's parts, made and wired together: who calls whom, and where
 * the store, journal and user-record plumbing goes (an in-memory offline
 * store answers at once; an external one is reached through requests, its
 * group messages written ahead and its user records kept). The façade
 * (`state.ts`) makes them once and dispatches to them.
 *
 * @module
 */
import type { Outbox } from "../protocol/machine.ts";
import type { Retransmitter } from "../protocol/reliable.ts";
import { Admission } from "./admission.ts";
import { tableVersionBase } from "./chat_identity.ts";
import { BOOT_ID_BYTES, COOKIE_KEY_BYTES } from "./constants.ts";
import { Deliveries } from "./deliveries.ts";
import type { ServerEvent } from "./events.ts";
import { HeldState } from "./held_state.ts";
import { DatagramIds, randomHex } from "./ids.ts";
import { MemoryStore } from "./memory_store.ts";
import { Notices } from "./notices.ts";
import { OfflineMessages } from "./offline_messages.ts";
import {
  DEFAULT_SERVER_LIMITS,
  type ServerLimits,
  type ServerOptions,
} from "./options.ts";
import { Relay } from "./relay.ts";
import { ReliableSender } from "./reliable_sender.ts";
import { ResponseCache } from "./response_cache.ts";
import { ReplayGuard } from "./replay_guard.ts";
import { RestoredSessions } from "./restored_sessions.ts";
import { Sessions } from "./sessions.ts";
import type { ServerDropReason } from "./stats.ts";
import { StoredDelivery } from "./stored_delivery.ts";
import { TableReplication } from "./table_replication.ts";
import { TableRequests } from "./table_requests.ts";
import { ServerTransit, type TransitOptions } from "./transit.ts";
import type { User } from "./user.ts";
import { UserIndex } from "./user_index.ts";
import { UserRecords } from "./user_records.ts";

/** What the parts share with the façade. */
export interface PartsContext {
  /** Where every part puts the datagrams it sends. */
  out: Outbox;
  /** Tracks every reliable send until its ACK or expiry. */
  retransmitter: Retransmitter;
  /** Reports a typed event. */
  emit: (event: ServerEvent) => void;
  /** Counts a dropped datagram (or what was shed). */
  drop: (reason: ServerDropReason) => void;
}

/** The parts the façade dispatches to, and its boot id. */
export interface ServerParts {
  /** This server instance's boot id (hex): the chat's, in a chat. */
  bootId: string;
  /**
   * Whether the server leads a chat that outlives it (option `chat`,
   * chat_identity.ts): sessions restored from the store live on.
   */
  chat: boolean;
  /** Rate limits and the unproven budget. */
  admission: Admission;
  /** The registered users by name, token and address. */
  users: UserIndex;
  /** Registration, deregistration and going Offline. */
  sessions: Sessions;
  /** Answers to repeats, the amplification guard. */
  responses: ResponseCache;
  /** The table to every client. */
  table: TableReplication;
  /** Answers `sync` and `who`. */
  tableRequests: TableRequests;
  /** Group fan-out and save-or-forward. */
  relay: Relay;
  /** The offline store, through its requests. */
  offline: OfflineMessages;
  /** The user-record store, through its requests. */
  records: UserRecords;
  /** Live delivery queues. */
  deliveries: Deliveries;
  /** Offline-list delivery. */
  stored: StoredDelivery;
  /** Notices to senders: what became of their messages. */
  notices: Notices;
  /** Transit sealing: keys per client address, envelopes in and out. */
  transit: ServerTransit;
  /** Sessions restored from another leader, not heard from yet. */
  restored: RestoredSessions;
  /** Replays of a session's old requests, told from new ones. */
  replay: ReplayGuard;
  /** What the server holds: its gauges, and the sweep after a peak. */
  held: HeldState;
}

/**
 * Makes the server's parts, drawing its cookie key, id seed and boot id from
 * `options.random` (in this order: the seed's draws are unchanged).
 *
 * @param options Randomness, limits, the store mode and the transit mode.
 * @param context The outbox, retransmitter and reporting the parts share.
 * @returns The parts, wired together.
 */
export function makeParts(
  options: ServerOptions & TransitOptions,
  context: PartsContext,
): ServerParts {
  const { out, retransmitter, emit, drop } = context;
  const limits: ServerLimits = {
    ...DEFAULT_SERVER_LIMITS,
    ...options.limits,
  };
  const { random } = options;
  const external = (options.store ?? "memory") !== "memory";
  const cookieKey = random(COOKIE_KEY_BYTES);
  // A chat that outlives its leaders (chat_identity.ts) has one boot id and
  // one transit key pair; its leader's term keeps nonces, stored ids and
  // table versions apart from every other leader's.
  const chat = options.chat;
  // The transit key pair comes from the cookie key's bytes through HKDF:
  // no more random bytes are drawn than before (protocol/transit_crypto.ts).
  const transit = new ServerTransit(chat?.transitSeed ?? cookieKey, {
    mode: options.transit ?? "sealed",
    noncePrefix: chat?.term,
  });
  const ids = new DatagramIds(random);
  const ownBootId = randomHex(random, BOOT_ID_BYTES);
  const bootId = chat?.bootId ?? ownBootId;
  const users = new UserIndex();
  const records = new UserRecords({
    store: external ? "external" : "memory",
    responses: () => responses,
    drop,
  });
  const sessions = new Sessions({
    users,
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
    out,
    isProven: (address) => users.isProven(address),
    drop,
  });
  const table = new TableReplication({
    retransmitter,
    out,
    ids,
    onlineCount: () => users.onlineCount,
    emit,
    versionBase: tableVersionBase(chat?.term ?? 0),
  });
  // A table change is never overtaken by what it caused (a delivery, a notice).
  const sender = new ReliableSender({
    retransmitter,
    ids,
    flushTable: (now) => table.flushPending(now),
  });
  const lost = (user: User, now: number) =>
    sessions.goOffline(user, "lost", now);
  const offline = new OfflineMessages({
    // Unique per leader: `<chat boot id>t<term>` in a chat, else its own
    // (ids are NATS subject tokens: no dots).
    bootId: chat === undefined ? ownBootId : `${chat.bootId}t${chat.term}`,
    memory: external ? undefined : new MemoryStore(limits),
  });
  // Sessions restored from another leader, not heard from yet: nothing
  // goes to them meanwhile (restored_sessions.ts).
  const restored = new RestoredSessions();
  const notices = new Notices({
    sender,
    users,
    paused: (user) => restored.isUnheard(user),
  });
  const deliveries: Deliveries = new Deliveries({
    paused: (user) => restored.isUnheard(user),
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
  const relay: Relay = new Relay({
    responses,
    users,
    deliveries,
    offline,
    notices,
    emit,
    pendingCount: () => retransmitter.size,
    maxPending: limits.maxPending,
    limits,
    drop,
    writeAhead: external,
  });
  const admission = new Admission({
    limits,
    onlineCount: () => users.onlineCount,
  });
  return {
    bootId,
    chat: chat !== undefined,
    restored,
    replay: new ReplayGuard(),
    admission,
    users,
    sessions,
    responses,
    table,
    tableRequests: new TableRequests({ responses, table }),
    relay,
    offline,
    records,
    deliveries,
    stored,
    notices,
    transit,
    held: new HeldState({
      admission,
      responses,
      notices,
      deliveries,
      reassembler: relay.reassembler,
    }),
  };
}
