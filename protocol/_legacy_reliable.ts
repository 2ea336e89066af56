/**
 * Retransmission inside an ACK window: every reliable datagram is resent with
 * exponential backoff from an adaptive timeout (RFC 6298's estimator, bounded
 * for the seed's 500 ms window) until it is ACKed or its deadline passes.
 *
 * @module
 */
import { type Address, sameAddress } from "./address.ts";
import {
  ACK_WINDOW_MS,
  INITIAL_RTO_MS,
  MAX_RTO_MS,
  MIN_RTO_MS,
} from "./constants.ts";
import type { Datagram } from "./datagram.ts";
import { MinHeap } from "./_heap.ts";

interface Pending<C> {
  id: number;
  to: Address;
  bytes: Uint8Array;
  ctx: C;
  sentAt: number;
  retransmitted: boolean;
  deadline: number;
  nextSend: number;
  backoff: number;
  maxBackoff: number;
  gen: number;
}

interface Slot {
  at: number;
  id: number;
  gen: number;
}

/** Options for {@linkcode Retransmitter.send}. */
export interface SendOptions {
  /** Absolute time at which the datagram times out (default: now + 500 ms). */
  deadline?: number;
  /**
   * Largest gap between retransmissions (default 80 ms, to fit several tries
   * in the seed's 500 ms window). Bulk traffic with a longer deadline backs
   * off further, so a busy peer is not flooded with copies.
   */
  maxBackoff?: number;
  /**
   * Least wait before the first retransmission (default: none, the adaptive
   * timeout alone). For bulk traffic from a busy sender, whose answers come
   * back later than the chat's round trips.
   */
  minTimeout?: number;
}

/** What {@linkcode Retransmitter.ack} returns for a matched ACK. */
export interface Acked<C> {
  /** The context given to `send`. */
  ctx: C;
  /** Milliseconds from the first transmission to the ACK. */
  elapsed: number;
}

/**
 * Tracks reliable datagrams until ACKed or timed out. Pure: time is passed in,
 * datagrams to send are pushed onto the outbox given to the constructor.
 *
 * @typeParam C What the owner wants back on ACK or timeout.
 *
 * @example Usage
 * ```ts
 * import { Retransmitter } from "./_legacy_reliable.ts";
 * import type { Datagram } from "./datagram.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const out: Datagram[] = [];
 * const r = new Retransmitter<string>(out);
 * const to = { hostname: "127.0.0.1", port: 5000 };
 * r.send(1, to, new Uint8Array([1]), "hello", 0);
 * assertEquals(out.length, 1);
 * r.poll(r.nextTimer()!); // no ACK: resent
 * assertEquals(out.length, 2);
 * assertEquals(r.ack(1, to, 50)?.ctx, "hello");
 * ```
 */
export class Retransmitter<C> {
  #out: Datagram[];
  #pending = new Map<number, Pending<C>>();
  #heap = new MinHeap<Slot>();
  #srtt = 0;
  #sampled = false;
  #rttvar = 0;
  #rto = INITIAL_RTO_MS;
  #gen = 0;
  /** Retransmissions made so far. */
  retransmissions = 0;

  /** @param out Where datagrams to send are pushed. */
  constructor(out: Datagram[]) {
    this.#out = out;
  }

  /** Number of datagrams awaiting an ACK. */
  get size(): number {
    return this.#pending.size;
  }

  /** The current retransmission timeout, in milliseconds. */
  get rto(): number {
    return this.#rto;
  }

  /**
   * Sends a datagram now and keeps it until ACKed or timed out. Sending an id
   * that is already pending restarts its window.
   */
  send(
    id: number,
    to: Address,
    bytes: Uint8Array,
    ctx: C,
    now: number,
    options: SendOptions = {},
  ): void {
    const deadline = options.deadline ?? now + ACK_WINDOW_MS;
    const old = this.#pending.get(id);
    const timeout = Math.max(this.#rto, options.minTimeout ?? 0);
    const p: Pending<C> = {
      id,
      to,
      bytes,
      ctx,
      sentAt: now,
      retransmitted: old !== undefined,
      deadline,
      nextSend: now + timeout,
      backoff: timeout,
      maxBackoff: options.maxBackoff ?? MAX_RTO_MS,
      gen: ++this.#gen,
    };
    this.#pending.set(id, p);
    this.#out.push({ to, bytes });
    this.#schedule(p);
  }

  /** Whether the id is awaiting an ACK. */
  has(id: number): boolean {
    return this.#pending.has(id);
  }

  /** The context of a pending id. */
  get(id: number): C | undefined {
    return this.#pending.get(id)?.ctx;
  }

  /** Forgets a pending datagram without waiting for its ACK. */
  cancel(id: number): C | undefined {
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    return p?.ctx;
  }

  /**
   * Matches an ACK: the id must be pending and the ACK must come from the
   * address the datagram went to.
   */
  ack(id: number, from: Address, now: number): Acked<C> | undefined {
    const p = this.#pending.get(id);
    if (p === undefined || !sameAddress(p.to, from)) return undefined;
    this.#pending.delete(id);
    if (!p.retransmitted) this.#sample(now - p.sentAt);
    return { ctx: p.ctx, elapsed: now - p.sentAt };
  }

  /**
   * Resends what is due and returns the contexts whose deadline has passed,
   * in deadline order. Those are forgotten.
   */
  poll(now: number): C[] {
    const expired: C[] = [];
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now) break;
      this.#heap.pop();
      const p = this.#pending.get(top.id);
      if (p === undefined || p.gen !== top.gen) continue;
      if (p.deadline <= now) {
        this.#pending.delete(p.id);
        expired.push(p.ctx);
        continue;
      }
      this.#out.push({ to: p.to, bytes: p.bytes });
      this.retransmissions++;
      p.retransmitted = true;
      p.backoff = Math.min(p.backoff * 2, p.maxBackoff);
      p.nextSend = now + p.backoff;
      p.gen = ++this.#gen;
      this.#schedule(p);
    }
    return expired;
  }

  /** The earliest time at which {@linkcode poll} has work, if any. */
  nextTimer(): number | undefined {
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined) return undefined;
      const p = this.#pending.get(top.id);
      if (p !== undefined && p.gen === top.gen) return top.at;
      this.#heap.pop();
    }
  }

  #schedule(p: Pending<C>): void {
    const at = p.nextSend < p.deadline ? p.nextSend : p.deadline;
    this.#heap.push({ at, id: p.id, gen: p.gen });
  }

  #sample(rtt: number): void {
    if (!this.#sampled) {
      this.#sampled = true;
      this.#srtt = rtt;
      this.#rttvar = rtt / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rtt);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rtt;
    }
    const rto = this.#srtt + Math.max(1, 4 * this.#rttvar);
    this.#rto = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, rto));
  }
}
