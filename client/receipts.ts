/**
 * What became of the messages this client sent: which still await an
 * outcome, the server's notices about them (shown once, and never before the
 * ACK of the message they are about), and the counts `--exec` exits by.
 *
 * @module
 */
import { RecentMap } from "../protocol/dedup.ts";
import type { NoteMessage } from "../protocol/messages.ts";
import { SEEN_KEYS_CAPACITY, SEEN_KEYS_TTL_MS } from "./constants.ts";
import type { ClientContext } from "./context.ts";
import type { Outcomes } from "./events.ts";

/** What {@linkcode Receipts} asks of the rest of the client. */
export interface ReceiptsHooks {
  /** Whether a part of message `k` still waits for the server's ACK. */
  isPending(k: string): boolean;
}

/**
 * The messages this client sent that await an outcome, and the notices about
 * them.
 */
export class Receipts {
  #ctx: ClientContext;
  #hooks: ReceiptsHooks;
  #awaiting = new Map<string, "group" | "private">();
  #deferred: NoteMessage[] = [];
  // Notices by what they say: the server sends one again, under a new id,
  // when it was kept for us while we were Offline.
  #seen = new RecentMap<string, true>({
    ttl: SEEN_KEYS_TTL_MS,
    capacity: SEEN_KEYS_CAPACITY,
  });

  /**
   * Makes receipts that await nothing yet.
   *
   * @param ctx The client's shared state.
   * @param hooks What it asks of the rest of the client.
   */
  constructor(ctx: ClientContext, hooks: ReceiptsHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
  }

  /** Whether no message awaits an ACK or a final notice. */
  get settled(): boolean {
    return this.#awaiting.size === 0;
  }

  /** Starts waiting for the outcome of message `k`. */
  expect(k: string, kind: "group" | "private"): void {
    this.#awaiting.set(k, kind);
  }

  /** Counts the outcome of message `k`, once. */
  finish(k: string, how: keyof Outcomes): void {
    if (!this.#awaiting.has(k)) return;
    this.#awaiting.delete(k);
    this.#ctx.outcomes[how]++;
  }

  /** The server ACKed the last part of group message `k`. */
  groupAcked(k: string): void {
    this.#ctx.emit({ type: "group_ack" });
    this.#ctx.outcomes.delivered++;
    this.release(k);
  }

  /** Private message `k` to `to` was saved for an Offline user at `at`. */
  saved(k: string, saved: { at: string; to: string }): void {
    this.finish(k, "saved");
    this.#ctx.emit({ type: "saved", at: saved.at, to: saved.to });
  }

  /** Whether message `k` still awaits its outcome. */
  awaiting(k: string): boolean {
    return this.#awaiting.has(k);
  }

  /** Shows the notices about message `k` held until its ACK. */
  release(k: string): void {
    const ready = this.#deferred.filter((n) => n.ref === k);
    this.#deferred = this.#deferred.filter((n) => n.ref !== k);
    for (const n of ready) this.#show(n);
  }

  /** Handles one notice (already ACKed and checked as new by id). */
  receive(m: NoteMessage, now: number): void {
    const said = `${m.k} ${m.ref} ${m.name}`;
    if (this.#seen.has(said, now)) return this.#ctx.drop("duplicate");
    this.#seen.set(said, true, now);
    if (this.#hooks.isPending(m.ref)) {
      this.#deferred.push(m);
      return;
    }
    this.#show(m);
  }

  #show(m: NoteMessage): void {
    const at = m.at ?? "";
    const ctx = this.#ctx;
    switch (m.k) {
      case "noack":
        // A group message saved for an Offline member is what `send_all`
        // promises (the seed's "message not delivered ... saved"): not an
        // outcome that makes `--exec` exit 3, which is for private messages.
        ctx.emit({ type: "no_ack", name: m.name });
        ctx.emit({ type: "saved_for", name: m.name, at });
        return;
      case "saved":
        return this.saved(m.ref, { at, to: m.name });
      case "rcv":
        this.finish(m.ref, "delivered");
        return ctx.emit({ type: "received", by: m.name });
      case "dlv":
        return ctx.emit({ type: "delivered_offline", name: m.name, at });
      case "refused":
        ctx.outcomes.refused++;
        if (this.#awaiting.get(m.ref) === "private") {
          this.#awaiting.delete(m.ref);
        }
        return ctx.emit({
          type: "not_saved",
          name: m.name,
          why: m.why ?? "full",
        });
      case "done":
        this.#awaiting.delete(m.ref);
        return;
    }
  }
}
