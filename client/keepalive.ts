/**
 * Keepalives: while Online and with nothing else for the server, the client
 * sends it one small `ka` datagram per interval (15 to 25 s by default). It
 * keeps NAT mappings open, and its answer tells the client, within one
 * interval, that the server restarted (another boot id), forgot it
 * (`not_registered`) or marked it Offline (`offline`): the client then
 * registers again by itself. A keepalive is never retransmitted and never
 * makes the client give up: an unanswered one is followed by the next
 * (protocol/README.md, "Keepalives and recovery").
 *
 * @module
 */
import { addressKey } from "../protocol/address.ts";
import { encodeMessage } from "../protocol/codec.ts";
import type { AckMessage, ErrMessage } from "../protocol/messages.ts";
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_JITTER } from "./constants.ts";
import type { ClientContext } from "./context.ts";

/** Keepalives in a row without an answer before moving to a `--failover` server. */
const MISSED_BEFORE_FAILOVER = 2;

/**
 * Passes over every server, each without a word, before an idle client with
 * `--failover` decides they are all gone and exits (status 1).
 */
export const SILENT_PASSES = 3;

/**
 * Why the client registers again: the server restarted (its boot id
 * changed, or a new server does not know the session), or it marked this
 * client Offline while the client was there.
 */
export type RecoveryReason = "restarted" | "rejoin";

/** What {@linkcode Keepalive} needs from the rest of the client. */
export interface KeepaliveOptions {
  /** The interval's middle, in ms (default 20,000: 15 to 25 s). */
  intervalMs?: number;
  /** Random bytes, for the jitter of each interval. */
  random: (length: number) => Uint8Array;
  /** Whether a request to the server is queued or under way (no keepalive then). */
  busy: () => boolean;
  /** The session token. */
  token: () => string;
  /** Registers again, for the reason given. */
  recover: (reason: RecoveryReason, now: number) => void;
}

/** The keepalive timer and what its answers say. */
export class Keepalive {
  #ctx: ClientContext;
  #options: KeepaliveOptions;
  #interval: number;
  #due: number | undefined;
  #id: number | undefined;
  #boot: string | undefined;
  #missed = 0;
  // Moves to another server in a row with not a word from any.
  #silentMoves = 0;
  // The server the misses were counted for (`addressKey`).
  #countedFor: string | undefined;

  /**
   * Makes a stopped keepalive: it starts at the first welcome.
   *
   * @param ctx The client's shared state.
   * @param options Interval, randomness and the client's hooks.
   */
  constructor(ctx: ClientContext, options: KeepaliveOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#interval = options.intervalMs ?? KEEPALIVE_INTERVAL_MS;
  }

  /** When the next keepalive is due (ms), if one is. */
  get due(): number | undefined {
    return this.#due;
  }

  /**
   * Learns the server's boot id from a welcome and starts the interval.
   *
   * @param boot The welcome's boot id (absent from servers before it).
   * @param now The current time (ms).
   */
  welcomed(boot: string | undefined, now: number): void {
    this.#boot = boot;
    this.#id = undefined;
    this.#schedule(now);
  }

  /** Stops sending: the client is Offline by its own `dereg`, or exiting. */
  stop(): void {
    this.#due = undefined;
    this.#id = undefined;
  }

  /**
   * Whether an answer's boot id says the server restarted since the welcome.
   *
   * @param boot The boot id in an answer, if it has one.
   */
  restarted(boot: string | undefined): boolean {
    return boot !== undefined && this.#boot !== undefined &&
      boot !== this.#boot;
  }

  /**
   * Something valid came from the server in use: it is alive, whatever
   * became of the last keepalive (its answer may have been lost).
   */
  heard(): void {
    this.#missed = 0;
    this.#silentMoves = 0;
  }

  /** Sends a keepalive if one is due and the client has nothing else under way. */
  handleTimer(now: number): void {
    if (this.#due === undefined || now < this.#due) return;
    if (this.#ctx.phase !== "online") return this.stop();
    this.#schedule(now);
    const server = addressKey(this.#ctx.server);
    if (server !== this.#countedFor) {
      // Another server since the last keepalive (a request moved): misses
      // at the old one say nothing of this one.
      this.#countedFor = server;
      this.#missed = 0;
      this.#id = undefined;
    }
    if (this.#options.busy()) return;
    if (
      this.#id !== undefined && ++this.#missed >= MISSED_BEFORE_FAILOVER &&
      this.#ctx.servers.length > 1
    ) {
      // Two keepalive intervals without a word from the server: with other
      // nodes to go to (`--failover`), move to the next. Once every one has
      // been tried SILENT_PASSES times without a word, every server is gone
      // (issue 10, "Failover"); keepalives are not retried, so one pass
      // could be a few lost datagrams. Without `--failover` the seed's rule
      // stands: only a request that goes unanswered ends the client.
      this.#missed = 0;
      const from = this.#ctx.server;
      if (++this.#silentMoves >= SILENT_PASSES * this.#ctx.servers.length) {
        // Every server tried, again and again, without a word.
        this.stop();
        this.#ctx.emit({ type: "server_not_responding" });
        this.#ctx.emit({ type: "exiting" });
        return this.#ctx.exitWith("server_not_responding");
      }
      const next = this.#ctx.nextServer();
      this.#countedFor = addressKey(next);
      this.#ctx.emit({
        type: "server_switched",
        previous: addressKey(from),
        server: addressKey(next),
      });
    }
    const id = this.#id = this.#ctx.nextId();
    const tok = this.#options.token();
    this.#ctx.out.push({
      to: this.#ctx.server,
      bytes: encodeMessage({ t: "ka", id, tok }),
    });
  }

  /**
   * Takes the server's answer to the last keepalive, if it is one.
   *
   * @returns Whether the answer was the keepalive's (and so is handled).
   */
  answer(m: AckMessage | ErrMessage, now: number): boolean {
    if (this.#id === undefined || m.id !== this.#id) return false;
    this.#id = undefined;
    this.#missed = 0;
    if (m.t === "ack") {
      if (this.restarted(m.boot)) this.#options.recover("restarted", now);
      return true;
    }
    if (m.code === "not_registered") {
      const forgotten = this.#boot === undefined || this.restarted(m.boot);
      this.#options.recover(forgotten ? "restarted" : "rejoin", now);
    } else if (m.code === "offline") {
      this.#options.recover("rejoin", now);
    }
    return true;
  }

  #schedule(now: number): void {
    const [r] = this.#options.random(1);
    const spread = (r / 255) * 2 - 1; // -1 .. 1
    this.#due = now +
      Math.round(this.#interval * (1 + KEEPALIVE_JITTER * spread));
  }
}
