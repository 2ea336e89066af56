/**
 * A registered user as the sessions keep it (`user_index.ts`, `sessions.ts`,
 * `going_offline.ts`). The other parts keep their own state per user (the
 * table replica, delivery queues, notices held) and read this record, never
 * write it.
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
  /**
   * The X25519 public key of its current session (base64url), published in
   * its row (protocol/e2e_crypto.ts); kept while it is Offline, so that
   * messages saved for it are sealed to the key it will come back with
   * (the same process, or the same passphrase for a claimed name).
   */
  agreementKey?: string;
  /** Whether its name is claimed (published in its row). */
  claimed?: boolean;
}

/** Finds registered users: the user index, as the other parts see it. */
export interface UserDirectory {
  /** The user with this name, if registered. */
  get(name: string): User | undefined;
  /** Every registered user, in registration order. */
  all(): Iterable<User>;
  /** How many users are registered. */
  readonly size: number;
}
