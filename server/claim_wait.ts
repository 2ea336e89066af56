/**
 * The claim wait (issues 10 and 14): on a durable store, a first claim of a
 * name is held until its user record is stored with compare-and-set
 * (`user_records.ts`), so that two leaders never bind two keys to one name.
 * Meanwhile the `reg` is busy (repeats are dropped), the user is marked
 * `probing` or, for a new name, the name and its lookalikes stay reserved.
 * The login goes on once the record is `saved`; a refusal is answered by
 * `UserRecords` and undoes what was reserved. Protocol: protocol/README.md,
 * "Claimed names". With the in-memory store nothing is held.
 *
 * @module
 */
import type { Claims } from "./claims.ts";
import type { Login } from "./duplicate_login.ts";
import type { Registration } from "./sessions.ts";
import type { User } from "./user.ts";
import {
  recordOf,
  SIGNED_REG_BYTES,
  type UserRecords,
} from "./user_records.ts";

/** What the claim wait works with. */
export interface ClaimWaitOptions {
  /** The user-record store (none: nothing is held). */
  records?: UserRecords;
  /** The bound keys: a held claim is bound once its record is stored. */
  claims: Claims;
}

/** A first claim of a new name to hold, and what to do once it is decided. */
export interface NewNameClaim {
  /** The registration order the new user will get. */
  order: number;
  /** The proven Ed25519 public key (base64url). */
  proven: string;
  /** The current time (ms). */
  now: number;
  /** Makes the user, the claim bound (ms: when the record was stored). */
  then: (now: number) => void;
  /** Releases the name's reservation: the claim was refused. */
  refused: () => void;
}

/**
 * Holds first claims until their user records are durable.
 *
 * @example Usage
 * ```ts
 * import { Claims } from "./claims.ts";
 * import { ClaimWait } from "./claim_wait.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const wait = new ClaimWait({ claims: new Claims((n) => new Uint8Array(n)) });
 * assertEquals(wait.isHeld("userA"), false);
 * ```
 */
export class ClaimWait {
  #options: ClaimWaitOptions;

  /** @param options The user-record store and the claims. */
  constructor(options: ClaimWaitOptions) {
    this.#options = options;
  }

  /** Whether a first claim of `name` is waiting for its record. */
  isHeld(name: string): boolean {
    return this.#options.records?.isHeld(name) === true;
  }

  /**
   * A first claim of a name already registered: the login goes on (`then`)
   * once the claim's record is stored; the user is `probing` meanwhile.
   *
   * @param user The registered user the login is for.
   * @param held The login, with its proven claim, and how it goes on.
   * @returns Whether it is held (`false`: go on at once).
   */
  holdLogin(
    user: User,
    held: { login: Login; then: (login: Login) => void },
  ): boolean {
    const { login, then } = held;
    const { records, claims } = this.#options;
    if (
      login.claim === undefined || records === undefined ||
      claims.keyOf(user.name) !== undefined
    ) return false;
    const claim = { key: login.claim, agreementKey: login.agreementKey };
    const record = recordOf({
      ...user,
      online: true,
      address: login.from,
      // The session's token is made at the welcome: none in this record.
      token: "",
    }, {
      now: login.now,
      claim,
    });
    const isHeld = records.hold(
      { record, from: login.from, id: login.id, size: SIGNED_REG_BYTES },
      {
        now: login.now,
        then: (now) => {
          user.probing = false;
          claims.bind(user.name, claim.key, claim.agreementKey);
          then({ ...login, now });
        },
        refused: () => (user.probing = false),
      },
    );
    if (isHeld) user.probing = true;
    return isHeld;
  }

  /**
   * A first claim of a new name, on a durable store: the user is made
   * (`then`) once the claim's record is stored; the caller keeps the name
   * (and its lookalikes) reserved meanwhile.
   *
   * @param reg The claiming registration.
   * @param claim Its order, proven key and time, and what to do once decided.
   * @returns Whether it is held (`false`: make the user at once).
   */
  holdNew(reg: Registration, claim: NewNameClaim): boolean {
    const { records, claims } = this.#options;
    if (records === undefined || !records.durable) return false;
    const { message: m, from, size } = reg;
    const bound = { key: claim.proven, agreementKey: m.xk };
    const record = recordOf({
      name: m.name,
      order: claim.order,
      address: from,
      online: true,
      token: "",
      probing: false,
      transient: m.transient === 1,
      agreementKey: m.xk,
    }, { now: claim.now, claim: bound });
    return records.hold({ record, from, id: m.id, size }, {
      now: claim.now,
      then: (now) => {
        claims.bind(m.name, bound.key, bound.agreementKey);
        claim.then(now);
      },
      refused: claim.refused,
    });
  }
}
