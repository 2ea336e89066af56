/**
 * Rate limiting in the spirit of ergo's fakelag: a burst, then a steady rate;
 * what exceeds it is dropped, never queued. Three shapes:
 *
 * - {@linkcode RateLimiter}: a token bucket per source key, for sources that
 *   proved their address (their number is bounded by the sessions);
 * - {@linkcode HashedRateLimiter}: a fixed table of buckets indexed by a hash
 *   of the source, for sources that proved nothing: its memory does not grow
 *   with the number of (spoofed) sources;
 * - {@linkcode TokenBucket}: one global budget.
 *
 * Memory returns after a burst of sources (issue 13): a bucket idle long
 * enough to be full again is the same as no bucket, so `sweep` forgets it;
 * and a map that held many sources is rebuilt once it holds few (a JS `Map`
 * keeps the table of its peak size until it is rebuilt).
 *
 * @module
 */
import { PeakSize } from "./shrink.ts";

/** Options for {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Datagrams a source may send at once (default 100). */
  burst?: number;
  /** Datagrams per second a source may send after its burst (default 400). */
  rate?: number;
  /** Most sources tracked; idle ones are forgotten first (default 200,000). */
  maxSources?: number;
  /**
   * The slowest rate any {@linkcode RateLimiter.allow} call passes, in
   * datagrams per second (default `rate`): a source idle for `burst /
   * minRate` seconds has a full bucket, and {@linkcode RateLimiter.sweep}
   * forgets it.
   */
  minRate?: number;
}

/** Options for one {@linkcode RateLimiter.allow} call. */
export interface AllowOptions {
  /**
   * The source's rate for this call, in datagrams per second (default the
   * limiter's): a fair share that changes with the number of sources.
   */
  rate?: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

function refill(
  b: Bucket,
  now: number,
  shape: { burst: number; rate: number },
): void {
  const add = ((now - b.last) / 1000) * shape.rate;
  b.tokens = Math.min(shape.burst, b.tokens + Math.max(0, add));
  b.last = Math.max(b.last, now);
}

/**
 * A token bucket per source key.
 *
 * @example Usage
 * ```ts
 * import { RateLimiter } from "./rate_limit.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const limiter = new RateLimiter({ burst: 2, rate: 1 });
 * assertEquals([1, 2, 3].map(() => limiter.allow("a", 0)), [true, true, false]);
 * assertEquals(limiter.allow("a", 1000), true);
 * ```
 */
export class RateLimiter {
  #buckets = new Map<string, Bucket>();
  #peak = new PeakSize();
  #burst: number;
  #rate: number;
  #max: number;
  #refillMs: number;

  /**
   * Makes one with these settings.
   *
   * @param options Burst, rate and memory bound.
   */
  constructor(options: RateLimiterOptions = {}) {
    this.#burst = options.burst ?? 100;
    this.#rate = options.rate ?? 400;
    this.#max = options.maxSources ?? 200_000;
    this.#refillMs = (this.#burst / (options.minRate ?? this.#rate)) * 1000;
  }

  /** Sources tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * When {@linkcode sweep} has a source to forget (the least recently seen
   * source's bucket is full again by then), or undefined when none is
   * tracked.
   */
  get sweepAt(): number | undefined {
    for (const b of this.#buckets.values()) return b.last + this.#refillMs;
    return undefined;
  }

  /**
   * Forgets the sources idle for `burst / minRate` seconds or more (their
   * buckets are full: forgetting them changes nothing), least recently seen
   * first, and rebuilds the map when it holds under a quarter of its peak.
   *
   * @param now The current time (ms).
   * @returns How many sources were forgotten.
   */
  sweep(now: number): number {
    let forgotten = 0;
    for (const [source, b] of this.#buckets) {
      if (b.last + this.#refillMs > now) break;
      this.#buckets.delete(source);
      forgotten++;
    }
    if (this.#peak.rebuild(this.#buckets.size)) {
      this.#buckets = new Map(this.#buckets);
    }
    return forgotten;
  }

  /** Takes one token for `source`; false when it has none left. */
  allow(source: string, now: number, options: AllowOptions = {}): boolean {
    const shape = { burst: this.#burst, rate: options.rate ?? this.#rate };
    let b = this.#buckets.get(source);
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) {
        // Forget the least recently seen source.
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      b = { tokens: this.#burst, last: now };
    } else {
      this.#buckets.delete(source);
      refill(b, now, shape);
    }
    this.#buckets.set(source, b);
    this.#peak.grew(this.#buckets.size);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** Options for {@linkcode HashedRateLimiter}. */
export interface HashedRateLimiterOptions {
  /** Datagrams a source may send at once (default 100). */
  burst?: number;
  /** Datagrams per second a source may send after its burst (default 400). */
  rate?: number;
  /** Buckets in the table, fixed at construction (default 4,096). */
  slots?: number;
}

/**
 * Token buckets in a fixed table, a source's bucket chosen by a hash of its
 * key (FNV-1a). Sources that share a slot share a bucket; memory is the same
 * for one source or a million spoofed ones, so an unvalidated flood of any
 * width costs no per-source memory.
 *
 * @example Usage
 * ```ts
 * import { HashedRateLimiter } from "./rate_limit.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const limiter = new HashedRateLimiter({ burst: 1, rate: 1, slots: 16 });
 * assertEquals([limiter.allow("a", 0), limiter.allow("a", 0)], [true, false]);
 * ```
 */
export class HashedRateLimiter {
  #tokens: Float64Array;
  #last: Float64Array;
  #burst: number;
  #rate: number;
  #inUse = 0;
  // The latest time any bucket was charged: every bucket is full again
  // `burst / rate` seconds after it.
  #lastCharge = -Infinity;

  /**
   * Makes one with these settings.
   *
   * @param options Burst, rate and the table's size.
   */
  constructor(options: HashedRateLimiterOptions = {}) {
    const slots = options.slots ?? 4_096;
    this.#burst = options.burst ?? 100;
    this.#rate = options.rate ?? 400;
    this.#tokens = new Float64Array(slots).fill(this.#burst);
    this.#last = new Float64Array(slots).fill(-Infinity);
  }

  /**
   * Buckets in use: charged since they were last found full. The table's
   * memory is fixed; this says how much of it a flood is using.
   */
  get inUse(): number {
    return this.#inUse;
  }

  /**
   * When every bucket in use is full again (then {@linkcode sweep} frees
   * them all), or undefined when none is in use.
   */
  get sweepAt(): number | undefined {
    return this.#inUse === 0
      ? undefined
      : this.#lastCharge + (this.#burst / this.#rate) * 1000;
  }

  /**
   * Frees the buckets that are full again (as if never charged: nothing
   * changes for their sources).
   *
   * @param now The current time (ms).
   * @returns How many buckets were freed.
   */
  sweep(now: number): number {
    if (this.#inUse === 0) return 0;
    const full = (this.#burst / this.#rate) * 1000;
    let freed = 0;
    for (let i = 0; i < this.#last.length; i++) {
      const last = this.#last[i];
      if (last === -Infinity) continue;
      const tokens = this.#tokens[i] + ((now - last) / 1000) * this.#rate;
      if (tokens < this.#burst && now - last < full) continue;
      this.#last[i] = -Infinity;
      this.#tokens[i] = this.#burst;
      freed++;
    }
    this.#inUse -= freed;
    return freed;
  }

  /** Takes one token from the bucket of `source`; false when it has none. */
  allow(source: string, now: number): boolean {
    const i = fnv1a(source) % this.#tokens.length;
    const last = this.#last[i];
    if (last === -Infinity) this.#inUse++;
    if (now > this.#lastCharge) this.#lastCharge = now;
    const add = last === -Infinity
      ? this.#burst
      : ((now - last) / 1000) * this.#rate;
    const tokens = Math.min(this.#burst, this.#tokens[i] + Math.max(0, add));
    this.#last[i] = Math.max(last, now);
    if (tokens < 1) {
      this.#tokens[i] = tokens;
      return false;
    }
    this.#tokens[i] = tokens - 1;
    return true;
  }
}

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens available at once. */
  burst: number;
  /** Tokens added per second. */
  rate: number;
}

/**
 * One token bucket: a global budget shared by everything charged to it.
 *
 * @example Usage
 * ```ts
 * import { TokenBucket } from "./rate_limit.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const budget = new TokenBucket({ burst: 2, rate: 1_000 });
 * assertEquals([0, 0, 0].map((t) => budget.take(t)), [true, true, false]);
 * assertEquals(budget.take(1), true);
 * ```
 */
export class TokenBucket {
  #bucket: Bucket;
  #shape: TokenBucketOptions;

  /**
   * Makes one with these settings.
   *
   * @param options Burst and rate.
   */
  constructor(options: TokenBucketOptions) {
    this.#shape = options;
    this.#bucket = { tokens: options.burst, last: -Infinity };
  }

  /** Takes one token; false when there is none left. */
  take(now: number): boolean {
    const b = this.#bucket;
    if (b.last === -Infinity) b.last = now;
    refill(b, now, this.#shape);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

// FNV-1a over UTF-16 code units: fast, and good enough to spread addresses.
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
