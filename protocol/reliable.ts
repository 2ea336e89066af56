/**
 * Retransmission inside an ACK window: every reliable datagram is resent with
 * exponential backoff from an adaptive retransmission timeout (RTO, the
 * estimator of RFC 6298 §2, bounded for the seed's 500 ms window) until it is
 * ACKed or its deadline passes. Each send carries its own outcome handlers,
 * as aioquic's sent packets carry their delivery handlers.
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
import type { Outbox } from "./machine.ts";
import { MinHeap } from "./_heap.ts";

/** A datagram to deliver reliably: its protocol id, destination and bytes. */
export interface ReliableDatagram {
  /** The message id the peer's ACK will carry. */
  id: number;
  /** Where it goes; an ACK counts only from this address. */
  to: Address;
  /** The encoded datagram (at most 1,200 bytes). */
  bytes: Uint8Array;
}

/** What the ACK handler learns. */
export interface AckInfo {
  /** Milliseconds from the first transmission to the ACK. */
  elapsed: number;
  /** The time of the ACK (ms). */
  now: number;
}

/** Options for {@linkcode Retransmitter.send}. */
export interface SendOptions {
  /** Absolute time (ms) at which the datagram expires (default: now + 500 ms). */
  deadline?: number;
  /**
   * Largest gap between retransmissions, in ms (default 80 ms, to fit
   * several tries in the seed's 500 ms window). Bulk traffic with a longer
   * deadline backs off further, so a busy peer is not flooded with copies.
   */
  maxBackoff?: number;
  /**
   * Least wait before the first retransmission, in ms (default: none, the
   * RTO alone). For bulk traffic from a busy sender, whose answers come back
   * later than the chat's round trips.
   */
  minTimeout?: number;
  /** Runs once when the matching ACK arrives. */
  onAck?: (ack: AckInfo) => void;
  /** Runs once when the deadline passes without an ACK, with the time (ms). */
  onExpire?: (now: number) => void;
}

interface Pending {
  datagram: ReliableDatagram;
  onAck: ((ack: AckInfo) => void) | undefined;
  onExpire: ((now: number) => void) | undefined;
  sentAt: number;
  retransmitted: boolean;
  deadline: number;
  nextSend: number;
  backoff: number;
  maxBackoff: number;
  generation: number;
}

interface Slot {
  at: number;
  id: number;
  generation: number;
}

/**
 * Tracks reliable datagrams until ACKed or expired. Pure: time is passed in;
 * datagrams go to the machine's {@linkcode Outbox}.
 *
 * @example Usage
 * ```ts
 * import { Retransmitter } from "./reliable.ts";
 * import { Outbox } from "./machine.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const out = new Outbox();
 * const r = new Retransmitter(out);
 * const to = { hostname: "127.0.0.1", port: 5000 };
 * let acked = false;
 * r.send({ id: 1, to, bytes: new Uint8Array([1]) }, 0, {
 *   onAck: () => (acked = true),
 * });
 * r.poll(r.nextTimer()!); // no ACK yet: resent
 * assertEquals(out.take().length, 2);
 * assertEquals(r.ack(1, to, 50), true);
 * assertEquals(acked, true);
 * ```
 */
export class Retransmitter {
  #out: Outbox;
  #pending = new Map<number, Pending>();
  #heap = new MinHeap<Slot>();
  #srtt = 0;
  #sampled = false;
  #rttvar = 0;
  #rto = INITIAL_RTO_MS;
  #generation = 0;
  /** Retransmissions made so far. */
  retransmissions = 0;

  /**
   * Makes one with these settings.
   *
   * @param out Where datagrams to send are queued.
   */
  constructor(out: Outbox) {
    this.#out = out;
  }

  /** Number of datagrams awaiting an ACK. */
  get size(): number {
    return this.#pending.size;
  }

  /** The current retransmission timeout (RTO), in milliseconds. */
  get rto(): number {
    return this.#rto;
  }

  /**
   * Sends a datagram now and keeps it until ACKed or expired. Sending an id
   * that is already pending replaces it (its handlers too) and restarts its
   * window; the replacement counts as a retransmission for RTT sampling
   * (Karn's algorithm, RFC 6298 §3).
   *
   * @param datagram Id, destination and bytes.
   * @param now The current time (ms).
   * @param options Deadline, backoff and the outcome handlers.
   */
  send(
    datagram: ReliableDatagram,
    now: number,
    options: SendOptions = {},
  ): void {
    const old = this.#pending.get(datagram.id);
    const timeout = Math.max(this.#rto, options.minTimeout ?? 0);
    const p: Pending = {
      datagram,
      onAck: options.onAck,
      onExpire: options.onExpire,
      sentAt: now,
      retransmitted: old !== undefined,
      deadline: options.deadline ?? now + ACK_WINDOW_MS,
      nextSend: now + timeout,
      backoff: timeout,
      maxBackoff: options.maxBackoff ?? MAX_RTO_MS,
      generation: ++this.#generation,
    };
    this.#pending.set(datagram.id, p);
    this.#out.push({ to: datagram.to, bytes: datagram.bytes });
    this.#schedule(p);
  }

  /** Whether the id is awaiting an ACK. */
  has(id: number): boolean {
    return this.#pending.has(id);
  }

  /**
   * Forgets a pending datagram without waiting for its ACK; neither handler
   * runs.
   *
   * @returns Whether it was pending.
   */
  cancel(id: number): boolean {
    return this.#pending.delete(id);
  }

  /**
   * Matches an ACK and runs the send's ACK handler. The id must be pending
   * and the ACK must come from the address the datagram went to; anything
   * else is a stray ACK.
   *
   * @returns Whether it matched.
   */
  ack(id: number, from: Address, now: number): boolean {
    const p = this.#pending.get(id);
    if (p === undefined || !sameAddress(p.datagram.to, from)) return false;
    this.#pending.delete(id);
    if (!p.retransmitted) this.#sample(now - p.sentAt);
    p.onAck?.({ elapsed: now - p.sentAt, now });
    return true;
  }

  /**
   * Resends what is due, then runs the expiry handlers of the datagrams whose
   * deadline has passed, in deadline order. Those are forgotten.
   *
   * @returns How many expired.
   */
  poll(now: number): number {
    const expired: Pending[] = [];
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now) break;
      this.#heap.pop();
      const p = this.#pending.get(top.id);
      if (p === undefined || p.generation !== top.generation) continue;
      if (p.deadline <= now) {
        this.#pending.delete(top.id);
        expired.push(p);
        continue;
      }
      this.#out.push({ to: p.datagram.to, bytes: p.datagram.bytes });
      this.retransmissions++;
      p.retransmitted = true;
      p.backoff = Math.min(p.backoff * 2, p.maxBackoff);
      p.nextSend = now + p.backoff;
      p.generation = ++this.#generation;
      this.#schedule(p);
    }
    for (const p of expired) p.onExpire?.(now);
    return expired.length;
  }

  /** The earliest time (ms) at which {@linkcode poll} has work, if any. */
  nextTimer(): number | undefined {
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined) return undefined;
      const p = this.#pending.get(top.id);
      if (p !== undefined && p.generation === top.generation) return top.at;
      this.#heap.pop();
    }
  }

  #schedule(p: Pending): void {
    const at = p.nextSend < p.deadline ? p.nextSend : p.deadline;
    this.#heap.push({ at, id: p.datagram.id, generation: p.generation });
  }

  // RFC 6298 §2: SRTT, RTTVAR and RTO = SRTT + max(G, 4·RTTVAR), bounded.
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
