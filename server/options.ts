/**
 * What a {@linkcode ServerState} is made with: its source of randomness, its
 * limits and where its offline store lives.
 *
 * @module
 */
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
}
