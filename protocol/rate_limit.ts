/**
 * Per-source rate limiting in the spirit of ergo's fakelag: a burst, then a
 * steady rate; what exceeds it is dropped, never queued.
 *
 * @module
 */

/** Options for {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Datagrams a source may send at once (default 100). */
  burst?: number;
  /** Datagrams per second a source may send after its burst (default 400). */
  rate?: number;
  /** Most sources tracked; idle ones are forgotten first (default 200,000). */
  maxSources?: number;
}

interface Bucket {
  tokens: number;
  last: number;
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
  #burst: number;
  #rate: number;
  #max: number;

  /** @param options Burst, rate and memory bound. */
  constructor(options: RateLimiterOptions = {}) {
    this.#burst = options.burst ?? 100;
    this.#rate = options.rate ?? 400;
    this.#max = options.maxSources ?? 200_000;
  }

  /** Takes one token for `source`; false when it has none left. */
  allow(source: string, now: number): boolean {
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
      const refill = ((now - b.last) / 1000) * this.#rate;
      b.tokens = Math.min(this.#burst, b.tokens + Math.max(0, refill));
      b.last = now;
    }
    this.#buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
