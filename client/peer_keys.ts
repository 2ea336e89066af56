/**
 * The X25519 key each peer's row last gave (issue 14), kept across table
 * snapshots, to warn when a claimed peer's key changes: the server refuses
 * that without a new claim, so it is worth a line. An unclaimed name gets a
 * fresh key with every session: nothing to warn about.
 *
 * @module
 */
import type { Row } from "../protocol/messages.ts";

/** Keys remembered before the memory is cleared and started again. */
export const MAX_PEER_KEYS = 65_536;

/**
 * Peers' last keys, and the warning when a claimed one changes.
 *
 * @example Usage
 * ```ts
 * import { PeerKeys } from "./peer_keys.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const keys = new PeerKeys("userA");
 * assertEquals(keys.changed(["userB", "127.0.0.1", 6001, 1, "k1", 1]), false);
 * assertEquals(keys.changed(["userB", "127.0.0.1", 6001, 1, "k2", 1]), true);
 * ```
 */
export class PeerKeys {
  #self: string;
  #keys = new Map<string, string>();

  /** @param self This client's own name (its own row is not checked). */
  constructor(self: string) {
    this.#self = self;
  }

  /**
   * Remembers a row's key.
   *
   * @param row A table row: `[name, ip, port, online, key?, claimed?]`.
   * @returns Whether it is a claimed peer's key that changed (warn).
   */
  changed(row: Row): boolean {
    const [name, , , , key, claimed] = row;
    if (key === undefined || name === this.#self) return false;
    const before = this.#keys.get(name);
    if (before === undefined && this.#keys.size >= MAX_PEER_KEYS) {
      this.#keys.clear();
    }
    this.#keys.set(name, key);
    return before !== undefined && before !== key && claimed === 1;
  }
}
