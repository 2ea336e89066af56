/**
 * The server's counters: traffic both ways and dropped datagrams by reason;
 * and its gauges: what it holds now ({@linkcode HeldGauges}), each of which
 * returns to its quiet value after an attack (issue 13, "Memory that
 * returns").
 *
 * @module
 */
import type { DropReason } from "../protocol/codec.ts";

/**
 * Why the server dropped a datagram:
 *
 * - a {@linkcode DropReason} of the decoder (`oversize`, `utf8`, `json`,
 *   `version`, `type`, `field`);
 * - `rate`: its source sent more than its rate limit allows;
 * - `unexpected`: a valid message the server never takes (e.g. a `msg`);
 * - `duplicate`: a repeated request, answered again from the cache;
 * - `unauthenticated`: a token that is unknown or used from another address;
 * - `amplification`: the answer would exceed 3× the request to an unproven
 *   address;
 * - `bad_cookie`: a registration with a wrong or stale cookie;
 * - `busy`: a registration for a name whose duplicate-login check is under way;
 * - `stray_ack`: an ACK matching nothing the server awaits from that address;
 * - `budget`: from an unproven source, over the global budget for those;
 * - `too_big`: a part whose message passes the 16 KiB or 64-part limit
 *   clients enforce (refused `too_big`);
 * - `partials_full`: a part refused because incomplete messages fill the
 *   server's bound (refused `full`);
 * - `partial_evicted`: a sender's incomplete message given up for its newer
 *   one;
 * - `quota`: a registration or a save over its source's quota (refused
 *   `full`);
 * - `held`: a delivery every part of which the recipient ACKed as `held`
 *   (not shown): saved for it (a stored one stays saved), the recipient
 *   stays Online;
 * - `claim_refused`: a `reg` or `dereg` of a claimed name that did not prove
 *   it (no key, another key, a bad signature).
 * - `stale_challenge`: a claimed `reg` whose challenge was not one this server
 *   issued to that address and name in the last 30 s, or was used already.
 * - `send_queue_answers`, `send_queue_bulk`, `send_queue_challenges`:
 *   datagrams the runtime's send queue (`runtime/udp_driver.ts`) dropped
 *   because it was full: answers, the rest, or cookie challenges (`retry`,
 *   sent last); counted by the driver, added to `stats` by the runtime.
 * - `user_record_unsaved`: not a datagram: a user record the durable store
 *   did not save or delete (server/user_records.ts), or a first claim it
 *   could not store (refused `store_unavailable`).
 * - `replay`: an authenticated request whose id its session sent long
 *   enough ago that it can only be a copy sent again (server/replay_guard.ts).
 */
export type ServerDropReason =
  | DropReason
  | "rate"
  | "unexpected"
  | "duplicate"
  | "unauthenticated"
  | "amplification"
  | "bad_cookie"
  | "busy"
  | "stray_ack"
  | "budget"
  | "too_big"
  | "partials_full"
  | "partial_evicted"
  | "quota"
  | "held"
  | "send_queue_answers"
  | "send_queue_bulk"
  | "claim_refused"
  | "stale_challenge"
  | "user_record_unsaved"
  | "replay";

/** Counters the server keeps. */
export interface ServerStats {
  /** Datagrams received. */
  datagramsIn: number;
  /** Datagrams handed out for sending. */
  datagramsOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes handed out for sending. */
  bytesOut: number;
  /** Retransmitted datagrams. */
  retransmissions: number;
  /** Dropped datagrams by reason (keys are {@linkcode ServerDropReason}s). */
  dropped: Record<string, number>;
}

/**
 * What the server holds now, part by part: each grows under an attack and
 * returns to its quiet value after it (the incomplete messages expire in
 * 10 s, the answers in 30 s, a bucket once it is full again; queues drain).
 * What was shed to keep them bounded is in {@linkcode ServerStats.dropped}.
 */
export interface HeldGauges {
  /** Incomplete messages being reassembled (`protocol/reassembly.ts`). */
  partials: number;
  /** Text held in incomplete messages, in UTF-8 bytes. */
  partialBytes: number;
  /**
   * Notices to senders awaiting an ACK or waiting for room in their
   * sender's window (`server/notices.ts`, `NOTICE_WINDOW`).
   */
  noticesQueued: number;
  /** Notices held for Offline senders until they are back. */
  noticesHeld: number;
  /** Messages queued or in flight to their recipients (`deliveries.ts`). */
  deliveries: number;
  /** Answers remembered for repeated requests (`response_cache.ts`). */
  responseCache: number;
  /** Proven sources with a rate-limit bucket (`admission.ts`). */
  provenSources: number;
  /**
   * Buckets in use in the fixed table for unproven sources (4,096 in all;
   * their memory is fixed, this says how much a flood is using).
   */
  unprovenBuckets: number;
  /**
   * Datagrams in the runtime's send queue (`runtime/udp_driver.ts`), added
   * by the runtime; absent in the core's own snapshot.
   */
  sendQueue?: number;
}

/** The counters with the server's gauges, as `ServerState.stats()` gives them. */
export interface ServerStatsSnapshot extends ServerStats {
  /** Registered users. */
  users: number;
  /** Users Online. */
  online: number;
  /** Messages in the offline store. */
  offlineMessages: number;
  /** Datagrams awaiting an ACK. */
  pending: number;
  /** What the server holds now (absent from a snapshot made by hand). */
  held?: HeldGauges;
}
