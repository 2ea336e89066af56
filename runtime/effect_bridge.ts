/**
 * The adapter between a sans-I/O core's requests for an effect (a store
 * write, a user record) and a service that answers asynchronously (NATS
 * JetStream, its KV buckets): after every step of the driver it takes the
 * core's requests, applies each, and feeds every result back into the core
 * as input, then steps the driver so that what the result released (a
 * `saved` ACK, a held `welcome`, a notice) goes out. The core never awaits:
 * see ../shared/DESIGN.md, "Sans-I/O core", and server/store.ts.
 *
 * Requests run concurrently, except those with the same ordering key
 * ({@linkcode EffectBridgeOptions.orderBy}), which are applied one after
 * another in the order the core made them (a user's record put, then the
 * put of its going Offline, then its delete).
 *
 * @module
 */

/** The core's side of one kind of effect. */
export interface EffectSource<Q, R> {
  /** Takes the requests made since the last call. */
  take(): Q[];
  /** Takes one result as input, at `now` (ms, the driver's clock). */
  handle(result: R, now: number): void;
}

/** Options of {@linkcode EffectBridge}. */
export interface EffectBridgeOptions<Q> {
  /** The driver's clock (ms). */
  now: () => number;
  /** Flushes the core's output after a result (the driver's `step`). */
  step: () => void;
  /**
   * The ordering key of a request: requests with the same key are applied
   * one at a time, in order. Default: none (all concurrent, in the order
   * sent).
   */
  orderBy?: (request: Q) => string;
}

/**
 * Pumps one kind of effect request from a core to an asynchronous service.
 *
 * @example Usage
 * ```ts
 * import { EffectBridge } from "./effect_bridge.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const results: string[] = [];
 * const queue = ["save a-1"];
 * const bridge = new EffectBridge(
 *   { take: () => queue.splice(0), handle: (r: string) => results.push(r) },
 *   (request: string) => Promise.resolve(`${request}: saved`),
 *   { now: () => 0, step: () => {} },
 * );
 * bridge.pump();
 * await bridge.settled();
 * assertEquals(results, ["save a-1: saved"]);
 * ```
 */
export class EffectBridge<Q, R> {
  #source: EffectSource<Q, R>;
  #apply: (request: Q) => Promise<R>;
  #options: EffectBridgeOptions<Q>;
  // The last request applied or waiting, per ordering key.
  #tails = new Map<string, Promise<void>>();
  #inFlight = new Set<Promise<void>>();

  /**
   * @param source The core's requests and where their results go.
   * @param apply Applies one request; never rejects (a failure is a result,
   *   for example `unavailable`).
   * @param options The clock, the step to run after each result, and the
   *   ordering key.
   */
  constructor(
    source: EffectSource<Q, R>,
    apply: (request: Q) => Promise<R>,
    options: EffectBridgeOptions<Q>,
  ) {
    this.#source = source;
    this.#apply = apply;
    this.#options = options;
  }

  /** Requests taken from the core and not answered yet. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** Sends every request the core made since the last call (after each step). */
  pump(): void {
    const { orderBy } = this.#options;
    for (const request of this.#source.take()) {
      const key = orderBy?.(request);
      const before = key === undefined ? undefined : this.#tails.get(key);
      const applied = before === undefined
        ? this.#apply(request)
        : before.then(() => this.#apply(request));
      const done: Promise<void> = applied.then((result) => {
        this.#inFlight.delete(done);
        if (key !== undefined && this.#tails.get(key) === done) {
          this.#tails.delete(key);
        }
        this.#source.handle(result, this.#options.now());
        this.#options.step();
      });
      if (key !== undefined) this.#tails.set(key, done);
      this.#inFlight.add(done);
    }
  }

  /** Resolves when every request taken so far has been answered. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
