/**
 * A bounded memory of recently seen keys, for recognising retransmissions.
 *
 * @module
 */
import { DEDUP_WINDOW_MS } from "./constants.ts";

/** Options for {@linkcode RecentMap}. */
export interface RecentMapOptions {
  /** How long an entry is kept, in milliseconds (default 30 s). */
  ttl?: number;
  /** Most entries kept; the oldest go first (default 100,000). */
  capacity?: number;
}

/**
 * A map whose entries expire after a fixed time and whose size is bounded.
 * Times must not go backwards.
 *
 * @example Usage
 * ```ts
 * import { RecentMap } from "./dedup.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const seen = new RecentMap<string, true>({ ttl: 1000 });
 * seen.set("a", true, 0);
 * assertEquals(seen.get("a", 999), true);
 * assertEquals(seen.get("a", 1000), undefined);
 * ```
 */
export class RecentMap<K, V> {
  #map = new Map<K, { value: V; expires: number }>();
  #ttl: number;
  #capacity: number;

  /** @param options Lifetime and capacity. */
  constructor(options: RecentMapOptions = {}) {
    this.#ttl = options.ttl ?? DEDUP_WINDOW_MS;
    this.#capacity = options.capacity ?? 100_000;
  }

  /** Number of entries, expired ones not yet purged included. */
  get size(): number {
    return this.#map.size;
  }

  /** The live value for a key. */
  get(key: K, now: number): V | undefined {
    const e = this.#map.get(key);
    return e !== undefined && e.expires > now ? e.value : undefined;
  }

  /** Whether a key is live. */
  has(key: K, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  /** Stores a value; it expires `ttl` after `now`. */
  set(key: K, value: V, now: number): void {
    this.#map.delete(key);
    this.#map.set(key, { value, expires: now + this.#ttl });
    this.#purge(now);
  }

  /** Removes a key. */
  delete(key: K): void {
    this.#map.delete(key);
  }

  #purge(now: number): void {
    for (const [k, e] of this.#map) {
      if (e.expires > now && this.#map.size <= this.#capacity) break;
      this.#map.delete(k);
    }
  }
}
