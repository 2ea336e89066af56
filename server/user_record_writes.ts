/**
 * The user-record writes of the sessions (issues 10 and 14): a user's
 * record, as it stands with its claim, put on the durable store when it
 * registers and when it goes Offline (best effort: a failure is counted as
 * `user_record_unsaved`), and deleted when its name is forgotten. The store
 * side of it, and its requests and results, are in `user_records.ts`.
 * Nothing is written with the in-memory store.
 *
 * @module
 */
import type { Claims } from "./claims.ts";
import type { User } from "./user.ts";
import { recordOf, type UserRecord, type UserRecords } from "./user_records.ts";

/**
 * Writes users' records to the durable store, if there is one.
 *
 * @example Usage
 * ```ts
 * import { Claims } from "./claims.ts";
 * import { UserRecordWrites } from "./user_record_writes.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const claims = new Claims((n) => new Uint8Array(n));
 * assertEquals(new UserRecordWrites(undefined, { claims }).claimOf("userA"), undefined);
 * ```
 */
export class UserRecordWrites {
  #records: UserRecords | undefined;
  #claims: Claims;

  /**
   * @param records The user-record store (none: nothing is written).
   * @param options The claims, whose keys go in the records.
   */
  constructor(records: UserRecords | undefined, options: { claims: Claims }) {
    this.#records = records;
    this.#claims = options.claims;
  }

  /**
   * Puts a user's record, as it stands, on the durable store (best effort).
   *
   * @param user The user.
   * @param now The current time (ms since the epoch): the record's `lastSeen`.
   */
  put(user: User, now: number): void {
    const records = this.#records;
    if (records === undefined || !records.durable) return;
    records.put(recordOf(user, { now, claim: this.claimOf(user.name) }));
  }

  /** Deletes the record of a name that is forgotten, if it has one. */
  forget(name: string): void {
    this.#records?.forget(name);
  }

  /**
   * The claim a name's record carries: its Ed25519 key and the X25519 key
   * bound with it (both base64url), or undefined for an unclaimed name.
   */
  claimOf(name: string): UserRecord["claim"] {
    const key = this.#claims.keyOf(name);
    if (key === undefined) return undefined;
    const agreementKey = this.#claims.agreementKeyOf(name);
    return agreementKey === undefined ? { key } : { key, agreementKey };
  }
}
