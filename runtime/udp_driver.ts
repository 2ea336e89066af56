/**
 * The one place that joins a sans-I/O state machine to a real UDP socket, the
 * clock and a timer. Server and client adapters both use it.
 *
 * The send queue is bounded (issue 13): answers (`ack`, `err`, `welcome`)
 * go in a queue of their own, sent ahead of everything else; the rest
 * (deliveries, notices, tables) keeps its order in a second queue; cookie
 * challenges (`retry`), which only sources that proved nothing get, wait in
 * a small queue of their own and take at most one send in eight while
 * other traffic waits, so that a spoofed flood's answers never hold up what
 * goes to proven sessions, and new users still get in. When a queue is full, new
 * datagrams are dropped and counted ({@linkcode UdpDriver.shed}): the
 * machine retransmits what still matters.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { MAX_UDP_PAYLOAD } from "../protocol/constants.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { Machine } from "../protocol/machine.ts";
import { unmapIPv4 } from "../protocol/address.ts";

/** Options for {@linkcode UdpDriver}. */
export interface DriverOptions<E> {
  /** Shows one of the machine's events. */
  print: (event: E) => void;
  /** Called after every step, e.g. to see whether the machine wants to exit. */
  afterStep?: () => void;
  /** The clock (default `Date.now`). */
  now?: () => number;
  /** Most answers queued for sending (default 8,192). */
  maxAnswers?: number;
  /** Most other datagrams queued for sending (default 32,768). */
  maxBulk?: number;
  /** Most cookie challenges (`retry`) queued for sending (default 1,024). */
  maxChallenges?: number;
}

/** Datagrams the driver dropped because its send queue was full. */
export interface SendShed {
  /** Answers and ACKs. */
  answers: number;
  /** Everything else but cookie challenges. */
  bulk: number;
  /** Cookie challenges (`retry`), sent only to sources that proved nothing. */
  challenges: number;
}

/** A FIFO of datagrams with O(1) take from the front. */
class Fifo {
  #items: (Datagram | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(d: Datagram): void {
    this.#items.push(d);
  }

  shift(): Datagram | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const d = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return d;
  }
}

// `{"v":1,"t":"` then the type: the codec writes `v` and `t` first.
const TYPE_AT = 12;
const ANSWER_TYPES = new Set(["ack", "err", "welcome"]);
const decoder = new TextDecoder();

function typeOf(bytes: Uint8Array): string | undefined {
  const end = bytes.indexOf(0x22, TYPE_AT);
  if (end < 0 || end - TYPE_AT > 8) return undefined;
  return decoder.decode(bytes.subarray(TYPE_AT, end));
}

/** Whether a datagram is an answer (sent ahead of the rest). */
export function isAnswer(bytes: Uint8Array): boolean {
  const t = typeOf(bytes);
  return t !== undefined && ANSWER_TYPES.has(t);
}

// At most one send in this many is a cookie challenge while other traffic
// waits.
const CHALLENGE_TURN = 8;

/** The longest delay armed at once, in ms (one hour; setTimeout's cap is 2^31 - 1). */
export const MAX_TIMER_DELAY_MS = 3_600_000;

/**
 * The delay to arm for a deadline, in ms: at least 0, at most
 * {@linkcode MAX_TIMER_DELAY_MS} (a later deadline is re-armed on waking).
 *
 * @param at The deadline (ms, the driver's clock).
 * @param now The current time (ms, the same clock).
 */
export function timerDelay(at: number, now: number): number {
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - now));
}

// Sends in a row before giving the receive loop a turn.
const SEND_BATCH = 32;

/**
 * Runs a machine on a socket: receives into one reused buffer, arms one timer
 * at the machine's deadline, and sends its datagrams in order.
 */
export class UdpDriver<E> {
  #conn: Deno.DatagramConn;
  #machine: Machine<E>;
  #options: DriverOptions<E>;
  #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt: number | undefined;
  #answers = new Fifo();
  #bulk = new Fifo();
  #challenges = new Fifo();
  #maxAnswers: number;
  #maxBulk: number;
  #maxChallenges: number;
  /** Datagrams dropped because the send queue was full. */
  readonly shed: SendShed = { answers: 0, bulk: 0, challenges: 0 };
  #sending: Promise<void> | undefined;
  #draining = false;
  #closed = false;
  /** Datagrams whose send failed (e.g. an unreachable address). */
  sendErrors = 0;
  /**
   * Times the machine's timer fired late and was handled only after the
   * datagrams received meanwhile.
   */
  lateTimers = 0;
  #deferred = false;

  /**
   * @param conn An open UDP socket.
   * @param machine The state machine to drive.
   * @param options Output and clock.
   */
  constructor(
    conn: Deno.DatagramConn,
    machine: Machine<E>,
    options: DriverOptions<E>,
  ) {
    this.#conn = conn;
    this.#machine = machine;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxAnswers = options.maxAnswers ?? 8_192;
    this.#maxBulk = options.maxBulk ?? 32_768;
    this.#maxChallenges = options.maxChallenges ?? 1_024;
  }

  /** Datagrams queued for sending now. */
  get queued(): number {
    return this.#answers.length + this.#bulk.length +
      this.#challenges.length;
  }

  /** The socket's local address. */
  get localAddr(): Deno.NetAddr {
    return this.#conn.addr as Deno.NetAddr;
  }

  /** The current time of this driver's clock. */
  now(): number {
    return this.#now();
  }

  /**
   * Receives until the socket is closed. Resolves when it is.
   */
  async run(): Promise<void> {
    const buf = new Uint8Array(MAX_UDP_PAYLOAD);
    while (!this.#closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await this.#conn.receive(buf);
      } catch (e) {
        if (this.#closed) break;
        // ICMP errors (e.g. a peer's port closed) surface here on some systems.
        if (e instanceof Deno.errors.ConnectionReset) continue;
        if (e instanceof Deno.errors.BadResource) break;
        throw e;
      }
      const [data, addr] = got;
      const from = addr as Deno.NetAddr;
      // The datagram is a view into the reused buffer: the machine copies what it keeps.
      this.#machine.receiveDatagram(data, {
        hostname: unmapIPv4(from.hostname),
        port: from.port,
      }, this.#now());
      this.step();
    }
  }

  /** Flushes the machine's output and re-arms its timer. Call after any input. */
  step(): void {
    if (this.#closed) return;
    for (const e of this.#machine.events()) this.#options.print(e);
    const out = this.#machine.datagramsToSend();
    if (out.length > 0) {
      for (const d of out) this.#enqueue(d);
      if (!this.#draining) {
        this.#draining = true;
        this.#sending = this.#drain();
      }
    }
    this.#arm();
    this.#options.afterStep?.();
  }

  /** Stops: clears the timer and closes the socket after queued sends. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sending;
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #arm(): void {
    const at = this.#machine.getTimer();
    if (at === this.#timerAt && this.#timer !== undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === undefined) return;
    // setTimeout takes at most 2^31 - 1 ms (about 24.8 days): a longer delay
    // (an Offline name forgotten after 30 days) fires at once, again and
    // again. A far deadline wakes up early and re-arms instead.
    this.#timer = setTimeout(
      () => this.#fire(at),
      timerDelay(at, this.#now()),
    );
  }

  // The machine's timer is due. Fired late (the process was busy), it waits
  // one turn of the event loop first: timers run before the datagrams that
  // arrived meanwhile are read, and an ACK unread in the socket must not
  // let what it ACKs expire (a recipient marked Offline falsely, issue 13).
  // Once only: the next firing, whatever re-armed it, is handled at once.
  #fire(at: number): void {
    this.#timer = undefined;
    this.#timerAt = undefined;
    if (this.#closed) return;
    const now = this.#now();
    if (now < at) return this.#arm(); // woken early: a deadline beyond the cap
    if (now > at && !this.#deferred) {
      this.#deferred = true;
      this.lateTimers++;
      this.#timerAt = at;
      this.#timer = setTimeout(() => this.#fire(at), 0);
      return;
    }
    this.#deferred = false;
    this.#machine.handleTimer(now);
    this.step();
  }

  #enqueue(d: Datagram): void {
    const t = typeOf(d.bytes);
    if (t === "retry") {
      if (this.#challenges.length >= this.#maxChallenges) {
        this.shed.challenges++;
      } else this.#challenges.push(d);
    } else if (t !== undefined && ANSWER_TYPES.has(t)) {
      if (this.#answers.length >= this.#maxAnswers) this.shed.answers++;
      else this.#answers.push(d);
    } else if (this.#bulk.length >= this.#maxBulk) this.shed.bulk++;
    else this.#bulk.push(d);
  }

  async #drain(): Promise<void> {
    let n = 0;
    try {
      while (this.queued > 0 && !this.#closed) {
        // Every CHALLENGE_TURN-th send may be a challenge, so that new
        // users still get in under heavy bulk traffic.
        const d = this.#answers.shift() ??
          (n % CHALLENGE_TURN === 0 ? this.#challenges.shift() : undefined) ??
          this.#bulk.shift() ?? this.#challenges.shift()!;
        try {
          await this.#conn.send(d.bytes, {
            transport: "udp",
            hostname: d.to.hostname,
            port: d.to.port,
          });
        } catch {
          this.sendErrors++;
        }
        // setImmediate, not setTimeout(0): a timer costs ~2 ms here and
        // capped a long drain at ~14,000 datagrams/s.
        if (++n % SEND_BATCH === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      // No await between the last look at the queue and this.
      this.#draining = false;
    }
  }
}
