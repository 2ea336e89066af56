/**
 * The default offline store: saved messages in the server's memory, per
 * recipient in the order they were saved, bounded per recipient and in total.
 * It answers the core's {@linkcode StoreRequest}s at once; what it keeps is
 * lost when the server stops.
 *
 * @module
 */
import type {
  StoredMessage,
  StoreLimits,
  StoreRequest,
  StoreResult,
} from "./store.ts";

/**
 * Saved messages per recipient, keyed by message id.
 *
 * @example Usage
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const store = new MemoryStore({
 *   perUser: 1, bytesPerUser: 100, total: 10, bytesTotal: 1000,
 * });
 * const message = {
 *   id: "b00t-1", to: "userB", from: "userA", group: false, text: "hi",
 *   messageKey: "k1", savedAt: "2023-10-21 02:14:41",
 * };
 * assertEquals(store.apply({ op: "save", message }).outcome, "saved");
 * assertEquals(store.list("userB"), [message]);
 * assertEquals(store.apply({ op: "delete", to: "userB", id: "b00t-1" }).outcome, "deleted");
 * assertEquals(store.count, 0);
 * ```
 */
export class MemoryStore {
  #boxes = new Map<string, Map<string, StoredMessage>>();
  #sizes = new Map<string, number>();
  #count = 0;
  #bytes = 0;
  #limits: StoreLimits;

  /**
   * Makes an empty store.
   *
   * @param limits Counts and text sizes allowed per recipient and in total.
   */
  constructor(limits: StoreLimits) {
    this.#limits = limits;
  }

  /** Messages stored in total. */
  get count(): number {
    return this.#count;
  }

  /** Text stored in total, in UTF-16 code units. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Carries out one request: a save is refused with `full` when a limit would
   * be passed; a delete of a message that is not there is `deleted` too.
   *
   * @param request What to save or delete.
   * @returns The outcome, for `ServerState.handleStoreResult`.
   */
  apply(request: StoreRequest): StoreResult {
    if (request.op === "delete") {
      this.#delete(request.to, request.id);
      return {
        op: "delete",
        id: request.id,
        to: request.to,
        outcome: "deleted",
      };
    }
    const { message } = request;
    const saved = this.#save(message);
    return {
      op: "save",
      id: message.id,
      to: message.to,
      outcome: saved ? "saved" : "full",
    };
  }

  /**
   * Puts back messages kept across a restart, without checking limits.
   *
   * @param messages The messages, oldest first per recipient.
   */
  restore(messages: readonly StoredMessage[]): void {
    for (const message of messages) this.#add(message);
  }

  /** The messages saved for a recipient, oldest first. */
  list(to: string): StoredMessage[] {
    return [...(this.#boxes.get(to)?.values() ?? [])];
  }

  #save(message: StoredMessage): boolean {
    const box = this.#boxes.get(message.to);
    const size = this.#sizes.get(message.to) ?? 0;
    const n = message.text.length;
    const l = this.#limits;
    if ((box?.size ?? 0) >= l.perUser || size + n > l.bytesPerUser) {
      return false;
    }
    if (this.#count >= l.total || this.#bytes + n > l.bytesTotal) return false;
    this.#add(message);
    return true;
  }

  #add(message: StoredMessage): void {
    let box = this.#boxes.get(message.to);
    if (box === undefined) this.#boxes.set(message.to, box = new Map());
    if (box.has(message.id)) return;
    box.set(message.id, message);
    const n = message.text.length;
    this.#sizes.set(message.to, (this.#sizes.get(message.to) ?? 0) + n);
    this.#count++;
    this.#bytes += n;
  }

  #delete(to: string, id: string): void {
    const box = this.#boxes.get(to);
    const message = box?.get(id);
    if (box === undefined || message === undefined) return;
    box.delete(id);
    this.#count--;
    this.#bytes -= message.text.length;
    if (box.size === 0) {
      this.#boxes.delete(to);
      this.#sizes.delete(to);
    } else {
      this.#sizes.set(to, this.#sizes.get(to)! - message.text.length);
    }
  }
}
