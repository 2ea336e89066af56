/**
 * The default offline store: saved messages in the server's memory, per
 * recipient in the order they were saved, bounded per recipient and in total.
 * It answers the core's {@linkcode StoreRequest}s at once; what it keeps is
 * lost when the server stops.
 *
 * @module
 */
import type {
  JournalEntry,
  StoredMessage,
  StoreLimits,
  StoreRequest,
  StoreResult,
  StoreResultFor,
} from "./store.ts";
import { SenderShares } from "./sender_shares.ts";

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
  #journal = new Map<string, JournalEntry>();
  #limits: StoreLimits;
  // What each sender holds: a full store refuses the heaviest first.
  #shares: SenderShares;

  /**
   * Makes an empty store.
   *
   * @param limits Counts and text sizes allowed per recipient and in total.
   */
  constructor(limits: StoreLimits) {
    this.#limits = limits;
    this.#shares = new SenderShares(limits);
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
   * be passed, or when the store is past its reserve mark and the sender
   * holds much of it (the heaviest first, `sender_shares.ts`); a delete of a message that is not there is `deleted` too.
   * Journal entries (server/journal.ts) are kept apart, without limits: the
   * server core writes them only to an external store, so this store sees
   * them only when it stands for one (tests, simulations).
   *
   * @param request What to save or delete.
   * @returns The outcome, for `ServerState.handleStoreResult`.
   */
  apply<R extends StoreRequest>(request: R): StoreResultFor<R> {
    return this.#apply(request) as StoreResultFor<R>;
  }

  #apply(request: StoreRequest): StoreResult {
    if (request.op === "journal") {
      this.#journal.set(request.entry.id, request.entry);
      return { op: "journal", id: request.entry.id, outcome: "saved" };
    }
    if (request.op === "unjournal") {
      this.#journal.delete(request.id);
      return { op: "unjournal", id: request.id, outcome: "deleted" };
    }
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

  /** The journal entries written and not yet deleted, oldest first. */
  journal(): JournalEntry[] {
    return [...this.#journal.values()];
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
    const store = { count: this.#count, bytes: this.#bytes, length: n };
    if (!this.#shares.admits(message.from, store)) return false;
    this.#add(message);
    return true;
  }

  #add(message: StoredMessage): void {
    let box = this.#boxes.get(message.to);
    if (box === undefined) this.#boxes.set(message.to, box = new Map());
    if (box.has(message.id)) return;
    box.set(message.id, message);
    const n = message.text.length;
    this.#shares.add(message.from, n);
    this.#sizes.set(message.to, (this.#sizes.get(message.to) ?? 0) + n);
    this.#count++;
    this.#bytes += n;
  }

  #delete(to: string, id: string): void {
    const box = this.#boxes.get(to);
    const message = box?.get(id);
    if (box === undefined || message === undefined) return;
    box.delete(id);
    this.#shares.remove(message.from, message.text.length);
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
