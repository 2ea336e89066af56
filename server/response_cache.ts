/**
 * Answers to requests, remembered so that a repeated request (its ACK was
 * lost) is answered again but acted on once; and the amplification guard:
 * before an address is proven, no answer to it may be over three times the
 * request's size (as RFC 9000 §8.1 limits a QUIC server).
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { RecentMap } from "../protocol/dedup.ts";
import type { Outbox } from "../protocol/machine.ts";
import type { Message } from "../protocol/messages.ts";
import { AMPLIFICATION_FACTOR, RESPONSE_CACHE_CAPACITY } from "./constants.ts";
import type { ServerDropReason } from "./stats.ts";

/** What a request being answered tells the cache. */
export interface AnswerOptions {
  /** The request's size in bytes (0 to skip the allowance, for a proven address). */
  requestSize: number;
  /** The current time (ms). */
  now: number;
}

/** What the response cache needs from the rest of the server. */
export interface ResponseCacheOptions {
  /** Where answers are queued. */
  out: Outbox;
  /** Whether an address is proven (a user Online there). */
  isProven: (address: Address) => boolean;
  /** Counts a dropped datagram. */
  drop: (reason: ServerDropReason) => void;
}

const BUSY = "busy";

/** The server's answers to requests, by source address and request id. */
export class ResponseCache {
  #answers = new RecentMap<string, Uint8Array | typeof BUSY>({
    capacity: RESPONSE_CACHE_CAPACITY,
  });
  #options: ResponseCacheOptions;

  /** @param options The outbox, the proof test and the drop counter. */
  constructor(options: ResponseCacheOptions) {
    this.#options = options;
  }

  /**
   * Answers a repeated request again from the cache (nothing, while it is
   * still being decided) and counts it as a duplicate.
   *
   * @returns Whether the request was a repeat.
   */
  replay(from: Address, id: number, now: number): boolean {
    const cached = this.#answers.get(key(from, id), now);
    if (cached === undefined) return false;
    this.#options.drop("duplicate");
    if (cached !== BUSY) this.#options.out.push({ to: from, bytes: cached });
    return true;
  }

  /** Sends an answer and remembers it for repeats of the request. */
  respond(to: Address, message: Message, options: AnswerOptions): void {
    const bytes = this.#guard(to, message, options);
    if (bytes === undefined) return;
    this.#answers.set(key(to, message.id), bytes, options.now);
    this.#options.out.push({ to, bytes });
  }

  /**
   * Sends an answer that is not remembered: a repeat of the request is
   * answered anew (a `retry` with a fresh cookie, a refusal of an
   * unauthenticated request), and spoofed sources cannot push real answers
   * out of the cache.
   */
  answerOnce(to: Address, message: Message, options: AnswerOptions): void {
    const bytes = this.#guard(to, message, options);
    if (bytes !== undefined) this.#options.out.push({ to, bytes });
  }

  /** Marks a request as being decided: its repeats are dropped meanwhile. */
  markBusy(from: Address, id: number, now: number): void {
    this.#answers.set(key(from, id), BUSY, now);
  }

  /** Forgets a request (one marked busy, once it is decided). */
  forget(from: Address, id: number): void {
    this.#answers.delete(key(from, id));
  }

  /** Answers remembered now, expired ones not yet swept included. */
  get size(): number {
    return this.#answers.size;
  }

  /**
   * When the oldest answer expires ({@linkcode sweep} forgets it then), or
   * undefined when none is remembered.
   */
  get sweepAt(): number | undefined {
    return this.#answers.sweepAt;
  }

  /**
   * Forgets the answers whose 30 s are over (`DEDUP_WINDOW_MS`), and gives
   * the memory of a peak back once few are left.
   *
   * @param now The current time (ms).
   */
  sweep(now: number): void {
    this.#answers.sweep(now);
  }

  #guard(
    to: Address,
    message: Message,
    options: AnswerOptions,
  ): Uint8Array | undefined {
    const bytes = encodeMessage(message);
    if (
      !this.#options.isProven(to) &&
      bytes.length > AMPLIFICATION_FACTOR * options.requestSize
    ) {
      this.#options.drop("amplification");
      return undefined;
    }
    return bytes;
  }
}

function key(from: Address, id: number): string {
  return `${addressKey(from)}#${id}`;
}
