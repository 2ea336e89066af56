/**
 * What each sender holds in the offline store, and whom a filling store
 * refuses first (issue 13: "a full store refuses the abuser first, and never
 * a user who has stored little").
 *
 * The last quarter of the store ({@linkcode STORE_RESERVE}, of its message
 * count and of its text) is kept for senders who hold little. Past that
 * mark a save is refused `full` when its sender is *heavy*: it holds at
 * least the mean per sender and at least {@linkcode LIGHT_SENDER_SHARE} of
 * the store (1/1,024: 195 messages or 256 Ki characters by default), by
 * count or by text. Light senders are taken until the store is entirely
 * full, which they alone can then have filled. A store with one sender
 * only is that sender's to fill. Saves for Offline users by group messages
 * count as their sender's too.
 *
 * @module
 */
import type { StoreLimits } from "./store.ts";

/** The part of the store kept for senders who hold little (a quarter). */
export const STORE_RESERVE = 0.25;

/**
 * The least part of the store a sender must hold to be refused as heavy
 * past the reserve mark, by count or by text.
 */
export const LIGHT_SENDER_SHARE = 1 / 1_024;

/** What one sender holds: messages and text (UTF-16 code units). */
export interface SenderHolding {
  /** Messages. */
  count: number;
  /** Text, in UTF-16 code units. */
  bytes: number;
}

/**
 * Holdings per sender, and the full-store policy.
 *
 * @example Usage
 * ```ts
 * import { SenderShares } from "./sender_shares.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const limits = { perUser: 100, bytesPerUser: 1e6, total: 4, bytesTotal: 1e6 };
 * const shares = new SenderShares(limits);
 * shares.add("heavy", 1);
 * shares.add("heavy", 1);
 * shares.add("light", 1);
 * // 3 of 4 held: past the reserve mark (3 of 4).
 * assertEquals(shares.admits("heavy", { count: 3, bytes: 3, length: 1 }), false);
 * assertEquals(shares.admits("light", { count: 3, bytes: 3, length: 1 }), true);
 * ```
 */
export class SenderShares {
  #limits: StoreLimits;
  #held = new Map<string, SenderHolding>();

  /** @param limits The store's limits (`total`, `bytesTotal` are read). */
  constructor(limits: StoreLimits) {
    this.#limits = limits;
  }

  /** Senders holding at least one message. */
  get senders(): number {
    return this.#held.size;
  }

  /** What `sender` holds now. */
  holding(sender: string): SenderHolding {
    const h = this.#held.get(sender);
    return { count: h?.count ?? 0, bytes: h?.bytes ?? 0 };
  }

  /** Counts one stored message of `length` code units to `sender`. */
  add(sender: string, length: number): void {
    const h = this.#held.get(sender);
    if (h === undefined) this.#held.set(sender, { count: 1, bytes: length });
    else {
      h.count++;
      h.bytes += length;
    }
  }

  /** Takes back one message of `length` code units from `sender`. */
  remove(sender: string, length: number): void {
    const h = this.#held.get(sender);
    if (h === undefined) return;
    if (--h.count <= 0) this.#held.delete(sender);
    else h.bytes -= length;
  }

  /**
   * Whether the store, holding `count` messages and `bytes` of text, takes
   * one more of `length` from `sender` under the full-store policy (the
   * store's own limits are checked apart).
   *
   * @param sender The sender's name.
   * @param store What the store holds, and the new message's length.
   * @returns False when the store is past its reserve mark and the sender
   * is heavy.
   */
  admits(
    sender: string,
    store: { count: number; bytes: number; length: number },
  ): boolean {
    const l = this.#limits;
    const mark = 1 - STORE_RESERVE;
    const pastMark = store.count + 1 > l.total * mark ||
      store.bytes + store.length > l.bytesTotal * mark;
    if (!pastMark) return true;
    const h = this.#held.get(sender);
    if (h === undefined || this.#held.size <= 1) return true;
    const n = this.#held.size;
    const heavyByCount = h.count >= store.count / n &&
      h.count >= l.total * LIGHT_SENDER_SHARE;
    const heavyByBytes = h.bytes >= store.bytes / n &&
      h.bytes >= l.bytesTotal * LIGHT_SENDER_SHARE;
    return !heavyByCount && !heavyByBytes;
  }
}
