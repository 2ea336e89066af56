/**
 * The core's side of the offline store: which messages are saved for whom
 * (as the store confirmed them), the requests not yet answered, and the
 * continuation each save waits to run. The core never calls a store: it
 * queues {@linkcode StoreRequest}s and takes {@linkcode StoreResult}s as
 * input. With an in-memory store each request is answered at once, inside
 * the input that made it, so the order of what the server sends is the same
 * as with a synchronous store.
 *
 * @module
 */
import type { MemoryStore } from "./memory_store.ts";
import type {
  JournalEntry,
  StoredMessage,
  StoreRefusal,
  StoreRequest,
  StoreResult,
} from "./store.ts";

/** What became of a save, when the answer came (ms), and the copy's id. */
export type SaveHandler = (
  outcome: "saved" | StoreRefusal,
  now: number,
  id: string,
) => void;

/** What became of a journal write, when the answer came (ms), and its id. */
export type JournalHandler = (
  outcome: "saved" | "unavailable",
  now: number,
  id: string,
) => void;

/** Options for {@linkcode OfflineMessages}. */
export interface OfflineMessagesOptions {
  /** The server's boot id: stored ids are `<boot id>-<sequence>`. */
  bootId: string;
  /** The in-memory store to answer requests at once; none for an external one. */
  memory?: MemoryStore;
}

/** The saved messages per recipient, and the saves awaiting their answer. */
export class OfflineMessages {
  #byRecipient = new Map<string, Map<string, StoredMessage>>();
  #count = 0;
  #waiting = new Map<string, { message: StoredMessage; then: SaveHandler }>();
  #journaling = new Map<string, JournalHandler>();
  #requests: StoreRequest[] = [];
  #bootId: string;
  #sequence = 0;
  #memory: MemoryStore | undefined;

  /** @param options The boot id and the in-memory store, if any. */
  constructor(options: OfflineMessagesOptions) {
    this.#bootId = options.bootId;
    this.#memory = options.memory;
  }

  /** Messages saved, as far as the core knows. */
  get count(): number {
    return this.#count;
  }

  /**
   * Asks the store to save a message, under a fresh id (or `options.id`,
   * for a copy whose id must be the same whoever makes it); `then` runs with
   * the outcome (at once with an in-memory store).
   *
   * @param message The message, without its id.
   * @param options The current time, what to do with the outcome, and the id.
   * @returns Whether the answer is still awaited.
   */
  save(
    message: Omit<StoredMessage, "id">,
    options: { now: number; then: SaveHandler; id?: string },
  ): boolean {
    const id = options.id ?? this.#nextId();
    const stored: StoredMessage = { id, ...message };
    this.#waiting.set(id, { message: stored, then: options.then });
    this.#submit({ op: "save", message: stored }, options.now);
    return this.#waiting.has(id);
  }

  /**
   * Asks the store to write a journal entry (server/journal.ts), under a
   * fresh id; `then` runs with the outcome once the store answers.
   *
   * @param entry The entry, without its id.
   * @param options The current time and what to do with the outcome.
   * @returns The entry's id.
   */
  journal(
    entry: Omit<JournalEntry, "id">,
    options: { now: number; then: JournalHandler },
  ): string {
    const id = this.#nextId();
    this.#journaling.set(id, options.then);
    this.#submit({ op: "journal", entry: { id, ...entry } }, options.now);
    return id;
  }

  /** Asks the store to delete a journal entry; its answer changes nothing. */
  unjournal(id: string, now: number): void {
    this.#submit({ op: "unjournal", id }, now);
  }

  /**
   * Whether a copy of the message `messageKey` from `from` is saved for
   * `to` (as far as the core knows).
   */
  hasCopy(to: string, copy: { from: string; messageKey: string }): boolean {
    for (const m of this.#byRecipient.get(to)?.values() ?? []) {
      if (m.from === copy.from && m.messageKey === copy.messageKey) return true;
    }
    return false;
  }

  /** The messages saved for a recipient, oldest first. */
  list(to: string): StoredMessage[] {
    return [...(this.#byRecipient.get(to)?.values() ?? [])];
  }

  /** Whether a message is still saved (not yet delivered). */
  has(to: string, id: string): boolean {
    return this.#byRecipient.get(to)?.has(id) ?? false;
  }

  /**
   * Forgets a delivered message and asks the store to delete it. Should the
   * delete fail, a durable store delivers the message again after a restart;
   * the recipient drops it by its message key.
   */
  delete(to: string, id: string, now: number): void {
    if (!this.#forget(to, id)) return;
    this.#submit({ op: "delete", to, id }, now);
  }

  /** Takes the requests for an external store, oldest first. */
  takeRequests(): StoreRequest[] {
    return this.#requests.splice(0);
  }

  /**
   * Learns the outcome of a request. A save's or a journal write's handler
   * runs; a delete's outcome changes nothing (the message was forgotten when
   * it was asked), nor does an unjournal's. Results for unknown ids are
   * ignored.
   */
  handleResult(result: StoreResult, now: number): void {
    if (result.op === "journal") {
      const then = this.#journaling.get(result.id);
      if (then === undefined) return;
      this.#journaling.delete(result.id);
      return then(result.outcome, now, result.id);
    }
    if (result.op !== "save") return;
    const waiting = this.#waiting.get(result.id);
    if (waiting === undefined) return;
    this.#waiting.delete(result.id);
    if (result.outcome === "saved") this.#remember(waiting.message);
    waiting.then(result.outcome, now, result.id);
  }

  /**
   * Loads what a durable store kept across a restart (also into the
   * in-memory store, if there is one).
   *
   * @param messages The messages, oldest first per recipient.
   */
  restore(messages: readonly StoredMessage[]): void {
    this.#memory?.restore(messages);
    for (const message of messages) this.#remember(message);
  }

  #nextId(): string {
    return `${this.#bootId}-${++this.#sequence}`;
  }

  #submit(request: StoreRequest, now: number): void {
    if (this.#memory === undefined) this.#requests.push(request);
    else this.handleResult(this.#memory.apply(request), now);
  }

  #remember(message: StoredMessage): void {
    let box = this.#byRecipient.get(message.to);
    if (box === undefined) this.#byRecipient.set(message.to, box = new Map());
    if (box.has(message.id)) return;
    box.set(message.id, message);
    this.#count++;
  }

  #forget(to: string, id: string): boolean {
    const box = this.#byRecipient.get(to);
    if (box === undefined || !box.delete(id)) return false;
    this.#count--;
    if (box.size === 0) this.#byRecipient.delete(to);
    return true;
  }
}
