/**
 * Sessions a new leader kept (server/sessions.ts, `restore`) whose clients
 * it has not heard from yet. Until a client sends something (its keepalive
 * comes within one interval, 15 to 25 s), the leader does not know that the
 * path to it works: its node may have died with the old leader, and the
 * client is on its way to another (`--failover`). So nothing is delivered
 * to it meanwhile: its deliveries wait in its queue rather than time out
 * and mark it Offline falsely. A client not heard from within
 * {@linkcode RESTORED_GRACE_MS} is gone: it goes Offline (what waited for
 * it is saved, its senders told), as any client that stops answering.
 *
 * Empty (and costing nothing) on a server that restored no session.
 *
 * @module
 */
import { addressKey } from "../protocol/address.ts";
import type { User } from "./user.ts";

/**
 * How long a restored session may stay unheard, in ms: the longest
 * keepalive interval (25 s), a missed one's answer and a move to another
 * node included, with a margin.
 */
export const RESTORED_GRACE_MS = 60_000;

/** Restored sessions not heard from yet, and their deadline. */
export class RestoredSessions {
  // Each unheard user, with the address and token of the session restored.
  #unheard = new Map<User, { at: string; token: string }>();
  #deadline: number | undefined;

  /**
   * Starts waiting to hear from sessions just restored.
   *
   * @param users The users brought back Online with their sessions.
   * @param now The current time (ms).
   */
  wait(users: readonly User[], now: number): void {
    if (users.length === 0) return;
    for (const user of users) {
      this.#unheard.set(user, {
        at: addressKey(user.address),
        token: user.token,
      });
    }
    this.#deadline = now + RESTORED_GRACE_MS;
  }

  /**
   * Whether nothing may be sent to this user yet: its restored session was
   * not heard from (a user that has another session since is no longer
   * waited for).
   */
  isUnheard(user: User): boolean {
    const held = this.#unheard.get(user);
    return held !== undefined && held.token === user.token &&
      held.at === addressKey(user.address);
  }

  /**
   * The user was heard from (an authenticated datagram, or an ACK, from its
   * address).
   *
   * @returns Whether it was unheard until now (its deliveries may go).
   */
  heard(user: User): boolean {
    if (!this.#unheard.delete(user)) return false;
    if (this.#unheard.size === 0) this.#deadline = undefined;
    return true;
  }

  /** When the sessions still unheard are given up (ms), if any are. */
  get deadline(): number | undefined {
    return this.#deadline;
  }

  /**
   * Gives up the sessions still unheard at the deadline.
   *
   * @param now The current time (ms).
   * @returns The users given up (each to go Offline), none before the deadline.
   */
  expire(now: number): User[] {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    const gone = [...this.#unheard.keys()].filter((u) => this.isUnheard(u));
    this.#unheard.clear();
    this.#deadline = undefined;
    return gone;
  }
}
