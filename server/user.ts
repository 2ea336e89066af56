/**
 * A registered user as the sessions part keeps it. The other parts keep
 * their own state per user (the table replica, delivery queues, notices held)
 * and read this record, never write it.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";

/** One registered name and its session. */
export interface User {
  /** The name, unique on this server. */
  readonly name: string;
  /** Position in registration order, from 0: the table's row order. */
  readonly order: number;
  /** The address it registered from (the table shows it). */
  address: Address;
  /** Whether it is Online. */
  online: boolean;
  /** The session token of its current login; empty before the first. */
  token: string;
  /** Whether a duplicate-login check of its old session is under way. */
  probing: boolean;
  /**
   * Whether its current session is transient (`reg` with `transient`, as
   * `--exec` sends): when it leaves, its row is removed, not kept Offline.
   */
  transient?: boolean;
}

/** Finds registered users: the sessions part, as the other parts see it. */
export interface UserDirectory {
  /** The user with this name, if registered. */
  get(name: string): User | undefined;
  /** Every registered user, in registration order. */
  all(): Iterable<User>;
  /** How many users are registered. */
  readonly size: number;
}
