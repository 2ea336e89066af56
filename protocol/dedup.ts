/**
 * A bounded memory of recently seen keys, for recognising retransmissions.
 *
 * @module
 */
import { DEDUP_WINDOW_MS } from "./constants.ts";
import { PeakSize } from "./shrink.ts";

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
  // What was set, in order: keys and the entries they got.
  #keys: K[] = [];
  #entries: { value: V; expires: number }[] = [];
  #head = 0;
  #peak = new PeakSize();
  #ttl: number;
  #capacity: number;

  /**
   * Makes one with these settings.
   *
   * @param options Lifetime and capacity.
   */
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
    const entry = { value, expires: now + this.#ttl };
    this.#map.set(key, entry);
    this.#keys.push(key);
    this.#entries.push(entry);
    this.#purge(now);
    this.#peak.grew(this.#map.size);
  }

  /** Removes a key. */
  delete(key: K): void {
    this.#map.delete(key);
  }

  /**
   * When the oldest entry set expires ({@linkcode sweep} forgets it then),
   * or undefined when none is held.
   */
  get sweepAt(): number | undefined {
    const keys = this.#keys, entries = this.#entries;
    // Entries set again or deleted since are passed for good (amortised).
    while (
      this.#head < keys.length &&
      this.#map.get(keys[this.#head]) !== entries[this.#head]
    ) this.#head++;
    return entries[this.#head]?.expires;
  }

  /**
   * Forgets the expired entries without setting one, and rebuilds the map
   * once it holds under a quarter of its peak (a JS `Map` keeps its peak's
   * table).
   *
   * @param now The current time (ms).
   */
  sweep(now: number): void {
    this.#purge(now);
    if (this.#peak.rebuild(this.#map.size)) {
      this.#map = new Map(this.#map);
      this.#keys = this.#keys.slice(this.#head);
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  // Oldest first, from a queue of what was set: iterating the Map from its
  // start instead skipped every deleted slot each time, 16 µs a call when full.
  #purge(now: number): void {
    const keys = this.#keys, entries = this.#entries;
    while (this.#head < keys.length) {
      const key = keys[this.#head];
      const entry = entries[this.#head];
      // Not the key's live entry (set again or deleted since): skipped.
      if (this.#map.get(key) === entry) {
        if (entry.expires > now && this.#map.size <= this.#capacity) break;
        this.#map.delete(key);
      }
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > keys.length) {
      keys.splice(0, this.#head);
      entries.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
