/**
 * Admission control (issue 13): which received datagrams the server spends
 * work on. What comes from a source that proved nothing (no user is Online
 * at its address) shares one global budget and a hashed per-source limit,
 * charged before the datagram is even decoded, so that a spoofed flood
 * costs as little as can be; a proven session has its fair share of the
 * server's capacity. ACKs are exempt (cheap, never answered, and a client
 * ACKing a big snapshot sends many at once): told apart by their first
 * bytes before decoding, by their type after.
 *
 * @module
 */
import {
  HashedRateLimiter,
  RateLimiter,
  TokenBucket,
} from "../protocol/rate_limit.ts";
import type { ServerLimits } from "./options.ts";

/** What {@linkcode Admission} needs. */
export interface AdmissionOptions {
  /** The rates (datagrams/s), bursts and capacity it enforces. */
  limits: ServerLimits;
  /** Users Online now: a proven session's share shrinks as it grows. */
  onlineCount: () => number;
}

/** The rate limiters and the unproven budget. */
export class Admission {
  #limits: ServerLimits;
  #onlineCount: () => number;
  #limiter: RateLimiter;
  #unprovenLimiter: HashedRateLimiter;
  #unprovenBudget: TokenBucket;

  /** @param options The limits, and how many users are Online. */
  constructor(options: AdmissionOptions) {
    const { limits } = options;
    this.#limits = limits;
    this.#onlineCount = options.onlineCount;
    // Proven sessions: a bucket each, at their fair share of the capacity.
    this.#limiter = new RateLimiter({
      burst: limits.rateBurst,
      rate: limits.rateLimit,
      minRate: Math.min(limits.minShare, limits.rateLimit),
    });
    // Unproven sources: no per-source memory, and one global budget.
    this.#unprovenLimiter = new HashedRateLimiter({
      burst: limits.rateBurst,
      rate: limits.rateLimit,
    });
    this.#unprovenBudget = new TokenBucket({
      burst: limits.unvalidatedBurst,
      rate: limits.unvalidatedRate,
    });
  }

  /**
   * Screens a datagram from a source that proved nothing, before decoding:
   * one that begins as an ACK passes; any other is charged to the source's
   * (hashed) limit, then to the global budget.
   *
   * @param bytes The datagram's payload.
   * @param arrival Its source (`addressKey` of its address) and the time (ms).
   * @returns Why to drop it (`rate` or `budget`), or undefined to go on.
   */
  screenUnproven(
    bytes: Uint8Array,
    arrival: { source: string; now: number },
  ): "rate" | "budget" | undefined {
    if (startsAsAck(bytes)) return undefined;
    const { source, now } = arrival;
    if (!this.#unprovenLimiter.allow(source, now)) return "rate";
    if (!this.#unprovenBudget.take(now)) return "budget";
    return undefined;
  }

  /**
   * Charges a decoded datagram other than an ACK from a proven session to
   * its limit, at its fair share.
   *
   * @param source The session's address (`addressKey`).
   * @param now The current time (ms).
   * @returns False when it must be dropped (`rate`).
   */
  allowProven(source: string, now: number): boolean {
    return this.#limiter.allow(source, now, { rate: this.#share() });
  }

  /**
   * Proven sources with a rate-limit bucket now (those idle long enough to
   * have a full bucket are forgotten by {@linkcode sweep}).
   */
  get provenSources(): number {
    return this.#limiter.size;
  }

  /** Buckets of the hashed table for unproven sources in use now. */
  get unprovenBuckets(): number {
    return this.#unprovenLimiter.inUse;
  }

  /**
   * When {@linkcode sweep} has buckets to forget, or undefined when none is
   * held.
   */
  get sweepAt(): number | undefined {
    const a = this.#limiter.sweepAt, b = this.#unprovenLimiter.sweepAt;
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  /**
   * Forgets the buckets that are full again (a source idle long enough):
   * nothing changes for their sources, and the memory a flood of sources
   * took is given back.
   *
   * @param now The current time (ms).
   */
  sweep(now: number): void {
    this.#limiter.sweep(now);
    this.#unprovenLimiter.sweep(now);
  }

  // A proven session's rate: its share of what the server can serve.
  #share(): number {
    const l = this.#limits;
    const fair = l.capacity / Math.max(1, this.#onlineCount());
    return Math.min(l.rateLimit, Math.max(l.minShare, fair));
  }
}

// `{"v":1,"t":"ack"`, as every ACK is encoded (`v` and `t` first).
const ACK_PREFIX = new TextEncoder().encode('{"v":1,"t":"ack"');

/**
 * Whether a datagram begins as an encoded ACK: a test without decoding, so
 * that ACKs from sources that proved nothing are not charged to their
 * budget. One that only looks like an ACK is decoded and dropped as usual.
 */
function startsAsAck(bytes: Uint8Array): boolean {
  if (bytes.length < ACK_PREFIX.length) return false;
  for (let i = 0; i < ACK_PREFIX.length; i++) {
    if (bytes[i] !== ACK_PREFIX[i]) return false;
  }
  return true;
}
