/**
 * Forgetting names nobody comes back for: an unclaimed name that stays
 * Offline longer than the server's `offlineNameTtlMs` (30 days by default;
 * issue "Faults found by trying udpchat as a new user would", item 12, and
 * "Everyone else keeps chatting while a few abuse the server") is removed
 * from the table with what was stored for it, so a bot or an abandoned name
 * does not clutter every table and fill the store forever.
 *
 * @module
 */

/**
 * The Offline names, oldest first, with when each went Offline.
 *
 * @example Usage
 * ```ts
 * import { NameExpiry } from "./name_expiry.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const expiry = new NameExpiry(1_000);
 * expiry.wentOffline("userA", 0);
 * expiry.wentOffline("userB", 500);
 * assertEquals(expiry.nextDeadline, 1_000);
 * assertEquals(expiry.takeExpired(1_200), ["userA"]);
 * expiry.cameBack("userB");
 * assertEquals(expiry.nextDeadline, undefined);
 * ```
 */
export class NameExpiry {
  #ttl: number;
  // Insertion order is the order they went Offline: a Map keeps it, and a
  // name that goes Offline again is deleted and inserted at the end.
  #since = new Map<string, number>();

  /** @param ttlMs How long a name may stay Offline, in ms (`Infinity`: forever). */
  constructor(ttlMs: number) {
    this.#ttl = ttlMs;
  }

  /** When the oldest Offline name expires (ms), if one will. */
  get nextDeadline(): number | undefined {
    if (!Number.isFinite(this.#ttl)) return undefined;
    for (const since of this.#since.values()) return since + this.#ttl;
    return undefined;
  }

  /** Starts the clock of a name that went Offline at `now` (ms). */
  wentOffline(name: string, now: number): void {
    this.#since.delete(name);
    this.#since.set(name, now);
  }

  /** Stops the clock of a name that is Online again, or removed. */
  cameBack(name: string): void {
    this.#since.delete(name);
  }

  /** Takes the names Offline for longer than the limit at `now` (ms), oldest first. */
  takeExpired(now: number): string[] {
    const expired: string[] = [];
    for (const [name, since] of this.#since) {
      if (since + this.#ttl > now) break;
      expired.push(name);
    }
    for (const name of expired) this.#since.delete(name);
    return expired;
  }
}
