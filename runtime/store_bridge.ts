/**
 * The adapter between the server core's offline-store requests and a store
 * that answers asynchronously (NATS JetStream): it takes the core's
 * {@linkcode StoreRequest}s after every step, applies each, and feeds every
 * {@linkcode StoreResult} back into the core as input, then steps the driver
 * so that what the result released (a `saved` ACK, a notice) goes out.
 *
 * @module
 */
import type {
  StoredMessage,
  StoreRequest,
  StoreResult,
} from "../server/store.ts";

/** A store that answers asynchronously, as runtime/nats_store.ts does. */
export interface AsyncStore {
  /** Does what was asked; never rejects (failures answer `unavailable`). */
  apply(request: StoreRequest): Promise<StoreResult>;
  /** Every stored message, oldest first, for a restart. */
  loadAll(): Promise<StoredMessage[]>;
}

/** The core's side, as the bridge needs it. */
export interface StoreClient {
  /** Takes the requests made since the last call. */
  storeRequests(): StoreRequest[];
  /** Takes one result as input. */
  handleStoreResult(result: StoreResult, now: number): void;
}

/** What the bridge calls back. */
export interface StoreBridgeOptions {
  /** The driver's clock (ms). */
  now: () => number;
  /** Flushes the core's output after a result (the driver's `step`). */
  step: () => void;
}

/**
 * Pumps store requests from a core to an {@linkcode AsyncStore}.
 *
 * @example Usage
 * ```ts
 * import { StoreBridge } from "./store_bridge.ts";
 * import type { StoreRequest, StoreResult } from "../server/store.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const results: StoreResult[] = [];
 * let queue: StoreRequest[] = [{ op: "delete", to: "userB", id: "a-1" }];
 * const bridge = new StoreBridge(
 *   {
 *     storeRequests: () => queue.splice(0),
 *     handleStoreResult: (r) => results.push(r),
 *   },
 *   {
 *     apply: (r) => Promise.resolve({ op: "delete", id: "a-1", to: "userB", outcome: "deleted" }),
 *     loadAll: () => Promise.resolve([]),
 *   },
 *   { now: () => 0, step: () => {} },
 * );
 * bridge.pump();
 * await bridge.settled();
 * assertEquals(results.length, 1);
 * ```
 */
export class StoreBridge {
  #core: StoreClient;
  #store: AsyncStore;
  #options: StoreBridgeOptions;
  #inFlight = new Set<Promise<void>>();

  /**
   * @param core The server core.
   * @param store The asynchronous store.
   * @param options The clock and the step to run after each result.
   */
  constructor(
    core: StoreClient,
    store: AsyncStore,
    options: StoreBridgeOptions,
  ) {
    this.#core = core;
    this.#store = store;
    this.#options = options;
  }

  /** Requests sent to the store and not answered yet. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /**
   * Sends every request the core made since the last call. Call after each
   * step of the driver. Requests go out in order; each result comes back as
   * soon as the store answers.
   */
  pump(): void {
    for (const request of this.#core.storeRequests()) {
      const done: Promise<void> = this.#store.apply(request).then((result) => {
        this.#inFlight.delete(done);
        this.#core.handleStoreResult(result, this.#options.now());
        this.#options.step();
      });
      this.#inFlight.add(done);
    }
  }

  /** Resolves when every request sent so far has been answered. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
