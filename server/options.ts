/**
 * What a {@linkcode ServerState} is made with: its source of randomness, its
 * limits and where its offline store lives.
 *
 * @module
 */
import type { ChatIdentity } from "./chat_identity.ts";
import type { StoreLimits } from "./store.ts";

/** Limits the server enforces. */
export interface ServerLimits extends StoreLimits {
  /** Most registered users. */
  maxUsers: number;
  /** Most datagrams awaiting an ACK at once. */
  maxPending: number;
  /** Datagrams a source may send at once. */
  rateBurst: number;
  /** Datagrams per second a source may send after its burst. */
  rateLimit: number;
  /**
   * Datagrams per second the server serves in all: 30,000, measured on the
   * 2-core reference machine (`deno run --allow-all
   * tests/_measure_capacity.ts`, medians 30,307 and 35,330 requests/s; see
   * docs/BENCHMARKS.md, "Under abuse"). Each proven session's rate is its
   * fair share, `capacity / Online users`, at most `rateLimit` and at least
   * `minShare`, so that the shares sum to what the server can serve.
   */
  capacity: number;
  /** Least rate of a proven session, in datagrams per second. */
  minShare: number;
  /**
   * The global budget of datagrams per second from sources that proved
   * nothing yet (no Online session at that address): a spoofed flood of any
   * width is shed past it, and costs no per-source memory.
   */
  unvalidatedRate: number;
  /** Datagrams from unproven sources let in at once, over the budget's rate. */
  unvalidatedBurst: number;
  /**
   * Most names registered from one IP address:port that still exist. A
   * client registers one name; a socket registering hundreds is refused
   * `full`.
   */
  namesPerAddress: number;
  /**
   * Most names registered from one IP address (any port) that still exist.
   * Loopback addresses are exempt: their users are the host's own.
   */
  namesPerHost: number;
  /**
   * Most messages one sender may have saved for Offline users per hour
   * through `save` requests (`server/save_quota.ts`; over it: refused
   * `quota`, with when it starts again, and counted as `quota`). Group messages saved for Offline users are
   * bounded by the store's limits per recipient, and a full store refuses
   * its heaviest senders first (`server/memory_store.ts`).
   */
  savesPerSender: number;
  /** Most text one sender may have saved per hour, in UTF-16 code units. */
  savedBytesPerSender: number;
  /**
   * Most messages the senders of one host (an IP address; for IPv6 its
   * /64) may have saved for Offline users per hour, `save` requests all
   * told (`server/save_quota.ts`): one host registering many names, each
   * within its own `savesPerSender`, still cannot fill the store. Loopback
   * is exempt (the host's own users). Over it, a save is refused `quota`
   * and counted as `quota`.
   */
  savesPerHost: number;
  /**
   * Most text the senders of one host may have saved per hour, in UTF-16
   * code units (loopback exempt).
   */
  savedBytesPerHost: number;
  /**
   * How long a name may stay Offline before the server forgets it, in ms
   * (default 30 days): its row leaves every table and what was stored for
   * it is deleted, so abandoned names and bots do not clutter tables and
   * the store forever. `Infinity` keeps names for good.
   */
  offlineNameTtlMs: number;
}

/** The default limits. */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  maxUsers: 200_000,
  maxPending: 100_000,
  perUser: 1_000,
  bytesPerUser: 1 << 20,
  total: 200_000,
  bytesTotal: 256 << 20,
  rateBurst: 200,
  rateLimit: 1_000,
  capacity: 30_000,
  minShare: 50,
  unvalidatedRate: 4_000,
  unvalidatedBurst: 1_000,
  namesPerAddress: 16,
  namesPerHost: 1_024,
  savesPerSender: 1_000,
  savedBytesPerSender: 1 << 20,
  savesPerHost: 4_000,
  savedBytesPerHost: 4 << 20,
  offlineNameTtlMs: 30 * 24 * 3_600_000,
};
/**
 * Where the offline store lives.
 *
 * - `memory`: in the server's memory ({@linkcode MemoryStore}); each request
 *   is answered at once, inside the input that made it.
 * - `external`: an adapter takes the requests from
 *   `ServerState.storeRequests()` and feeds the results back through
 *   `ServerState.handleStoreResult()` (for example a NATS JetStream store).
 */
export type StoreMode = "memory" | "external";

/** Options for `ServerState`. */
export interface ServerOptions {
  /** Random bytes: tokens, cookie key, boot id and id seeds come from here. */
  random: (length: number) => Uint8Array;
  /** Overrides of {@linkcode DEFAULT_SERVER_LIMITS}. */
  limits?: Partial<ServerLimits>;
  /** Where the offline store lives (default `memory`). */
  store?: StoreMode;
  /**
   * The identity of a chat that outlives its leaders (a NATS-backed chat,
   * chat_identity.ts): its boot id and transit key are used instead of this
   * server's own, and its term keeps nonces, stored ids and table versions
   * apart from every other leader's. None: the server is its own chat.
   */
  chat?: ChatIdentity;
}
