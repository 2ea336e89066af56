/**
 * What the server holds, and the sweep that gives it back (issue 13,
 * "Memory that returns"). The parts that grow under an attack (the rate
 * limiters of `admission.ts`, the answers of `response_cache.ts`, the
 * incomplete messages of `protocol/reassembly.ts`) forget what has expired
 * or is full again, and rebuild their maps once they hold under a quarter
 * of their peak (`protocol/shrink.ts`): a JS `Map` keeps the table of its
 * peak size until it is rebuilt.
 *
 * The sweep runs on the paths that exist: with a received datagram or a
 * timer of the server, at most once per {@linkcode SWEEP_INTERVAL_MS}. It
 * asks for a timer of its own ({@linkcode HeldState.sweepAt}) only while
 * incomplete messages are held or a part holds a peak's worth
 * ({@linkcode SWEEP_TIMER_ENTRIES} entries or more), so that a server left
 * with no traffic after an attack gives its memory back within seconds,
 * and a quiet server with a few answers remembered keeps no timer.
 *
 * @module
 */
import type { Reassembler } from "../protocol/reassembly.ts";
import type { Admission } from "./admission.ts";
import type { Deliveries } from "./deliveries.ts";
import type { Notices } from "./notices.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { HeldGauges } from "./stats.ts";

/** Least time between two sweeps, in ms. */
export const SWEEP_INTERVAL_MS = 1_000;

/**
 * Entries a part holds from which the sweep asks for a timer of its own
 * (below it, the part is swept with the next datagram or timer).
 */
export const SWEEP_TIMER_ENTRIES = 1_024;

/** The parts whose holdings are swept and gauged. */
export interface HeldStateOptions {
  /** The rate limiters. */
  admission: Admission;
  /** The answers to repeated requests. */
  responses: ResponseCache;
  /** Notices to senders (gauged only). */
  notices: Notices;
  /** Live deliveries (gauged only). */
  deliveries: Deliveries;
  /** The reassembler of requests' parts, where the server has one. */
  reassembler?: Reassembler;
}

/** Gauges of what the server holds, and its sweep. */
export class HeldState {
  #options: HeldStateOptions;
  #sweptAt = -Infinity;

  /** @param options The parts to sweep and gauge. */
  constructor(options: HeldStateOptions) {
    this.#options = options;
  }

  /** What the server holds now. */
  gauges(): HeldGauges {
    const { admission, responses, notices, deliveries, reassembler } =
      this.#options;
    return {
      partials: reassembler?.size ?? 0,
      partialBytes: reassembler?.bufferedBytes ?? 0,
      noticesQueued: notices.queued,
      noticesHeld: notices.held,
      deliveries: deliveries.size,
      responseCache: responses.size,
      provenSources: admission.provenSources,
      unprovenBuckets: admission.unprovenBuckets,
    };
  }

  /**
   * When the sweep needs a timer: while incomplete messages are held, or a
   * part holds {@linkcode SWEEP_TIMER_ENTRIES} entries or more; else
   * undefined (the sweep then waits for the next datagram or timer).
   */
  get sweepAt(): number | undefined {
    const { admission, responses, reassembler } = this.#options;
    let due: number | undefined;
    const consider = (at: number | undefined) => {
      if (at !== undefined && (due === undefined || at < due)) due = at;
    };
    if (reassembler !== undefined && reassembler.size > 0) {
      consider(reassembler.sweepAt);
    }
    if (responses.size >= SWEEP_TIMER_ENTRIES) consider(responses.sweepAt);
    if (
      admission.provenSources >= SWEEP_TIMER_ENTRIES ||
      admission.unprovenBuckets >= SWEEP_TIMER_ENTRIES
    ) {
      consider(admission.sweepAt);
    }
    return due === undefined
      ? undefined
      : Math.max(due, this.#sweptAt + SWEEP_INTERVAL_MS);
  }

  /**
   * Sweeps every part, at most once per {@linkcode SWEEP_INTERVAL_MS}:
   * call with every datagram and timer (cheap when it is not time).
   *
   * @param now The current time (ms).
   */
  sweep(now: number): void {
    if (now < this.#sweptAt + SWEEP_INTERVAL_MS) return;
    this.#sweptAt = now;
    const { admission, responses, reassembler } = this.#options;
    admission.sweep(now);
    responses.sweep(now);
    reassembler?.sweep(now);
  }
}
