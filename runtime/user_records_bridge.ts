/**
 * The adapter between the server core's user-record requests
 * (server/user_records.ts) and a store that answers asynchronously (the NATS
 * KV bucket, runtime/nats_users.ts): it takes the core's
 * {@linkcode UserRecordRequest}s after every step, applies them, one name at
 * a time in the order they were made, and feeds every
 * {@linkcode UserRecordResult} back into the core, then steps the driver so
 * that what the result released (a held `welcome`, a refusal) goes out.
 *
 * @module
 */
import type {
  UserRecord,
  UserRecordRequest,
  UserRecordResult,
} from "../server/user_records.ts";

/** A user-record store that answers asynchronously. */
export interface AsyncUserRecordStore {
  /** Does what was asked; never rejects (failures answer `unavailable`). */
  apply(request: UserRecordRequest): Promise<UserRecordResult>;
  /** Every record, for a node that takes the lead. */
  loadAll(): Promise<UserRecord[]>;
}

/** The core's side, as the bridge needs it. */
export interface UserRecordClient {
  /** Takes the requests made since the last call. */
  userRecordRequests(): UserRecordRequest[];
  /** Takes one result as input. */
  handleUserRecordResult(result: UserRecordResult, now: number): void;
}

/** What the bridge calls back. */
export interface UserRecordsBridgeOptions {
  /** The driver's clock (ms). */
  now: () => number;
  /** Flushes the core's output after a result (the driver's `step`). */
  step: () => void;
}

/**
 * Pumps user-record requests from a core to an
 * {@linkcode AsyncUserRecordStore}. Requests for one name are applied one
 * after another (a put, then the put of its going Offline, then its
 * delete); requests for different names run concurrently.
 *
 * @example Usage
 * ```ts
 * import { UserRecordsBridge } from "./user_records_bridge.ts";
 * import type {
 *   UserRecordRequest,
 *   UserRecordResult,
 * } from "../server/user_records.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const results: UserRecordResult[] = [];
 * const queue: UserRecordRequest[] = [{ op: "delete", id: 1, name: "userB" }];
 * const bridge = new UserRecordsBridge(
 *   {
 *     userRecordRequests: () => queue.splice(0),
 *     handleUserRecordResult: (r) => results.push(r),
 *   },
 *   {
 *     apply: () => Promise.resolve({ op: "delete", id: 1, outcome: "deleted" }),
 *     loadAll: () => Promise.resolve([]),
 *   },
 *   { now: () => 0, step: () => {} },
 * );
 * bridge.pump();
 * await bridge.settled();
 * assertEquals(results, [{ op: "delete", id: 1, outcome: "deleted" }]);
 * ```
 */
export class UserRecordsBridge {
  #core: UserRecordClient;
  #store: AsyncUserRecordStore;
  #options: UserRecordsBridgeOptions;
  // The last request applied or waiting, per name.
  #tails = new Map<string, Promise<void>>();
  #inFlight = new Set<Promise<void>>();

  /**
   * @param core The server core.
   * @param store The asynchronous store.
   * @param options The clock and the step to run after each result.
   */
  constructor(
    core: UserRecordClient,
    store: AsyncUserRecordStore,
    options: UserRecordsBridgeOptions,
  ) {
    this.#core = core;
    this.#store = store;
    this.#options = options;
  }

  /** Requests taken from the core and not answered yet. */
  get pending(): number {
    return this.#inFlight.size;
  }

  /** Sends every request the core made since the last call (after each step). */
  pump(): void {
    for (const request of this.#core.userRecordRequests()) {
      const name = request.op === "put" ? request.record.name : request.name;
      const before = this.#tails.get(name) ?? Promise.resolve();
      const done: Promise<void> = before.then(() => this.#store.apply(request))
        .then((result) => {
          this.#inFlight.delete(done);
          if (this.#tails.get(name) === done) this.#tails.delete(name);
          this.#core.handleUserRecordResult(result, this.#options.now());
          this.#options.step();
        });
      this.#tails.set(name, done);
      this.#inFlight.add(done);
    }
  }

  /** Resolves when every request taken so far has been answered. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
