/**
 * User records on a durable store (issues 10 and 14): what a leading node of
 * a NATS-backed chat must hand on to the next one so that names stay taken
 * and claimed names stay protected across a leader change. The core never
 * calls the store: it queues {@linkcode UserRecordRequest}s (taken by
 * `ServerState.userRecordRequests()`) and learns each
 * {@linkcode UserRecordResult} as input (`ServerState.handleUserRecordResult()`),
 * as the offline store is reached (`store.ts`).
 *
 * - A registration, and a user going Offline, put the user's record (best
 *   effort: a failure is counted as `user_record_unsaved`, the chat goes on).
 * - A first claim on such a store is answered only once its record is stored
 *   with compare-and-set: `welcome` after `saved`; `err` `claimed` when the
 *   store already binds another key to the name (another leader bound it);
 *   `err` `store_unavailable` when the store did not answer. Protocol:
 *   protocol/README.md, "Claimed names".
 * - A name forgotten (name expiry, a transient session leaving) deletes its
 *   record.
 *
 * With the in-memory store (the default) nothing is queued and nothing
 * waits: the seed's flows and timing are unchanged.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { ServerDropReason } from "./stats.ts";
import type { User } from "./user.ts";

/**
 * The least size of a `reg` that proved a claim, in bytes: its `pk` (43
 * characters), `ch` (22) and `sig` (86) with their JSON alone take 173. A
 * refusal of a held claim is measured against it (the amplification guard)
 * where the `reg`'s own size is no longer known.
 */
export const SIGNED_REG_BYTES = 173;

/**
 * One user as a durable store keeps it: enough to bring the name back
 * Offline, with its claim, on another leader.
 */
export interface UserRecord {
  /** The name (NFC). */
  name: string;
  /** Registration order on the server that wrote it (rows keep this order). */
  order: number;
  /** The address it last registered from: shown in its row, never trusted. */
  address: Address;
  /** Whether it was Online when written. */
  online: boolean;
  /**
   * When the record was written (ms since the epoch): for an Offline user,
   * when it went Offline, the start of its name-expiry clock.
   */
  lastSeen: number;
  /** The session was transient (`--exec`): it leaves no Offline row. */
  transient?: boolean;
  /** The X25519 public key published in its row (base64url), if any. */
  agreementKey?: string;
  /**
   * The session token (hex) of a user Online when written: the next
   * leader brings the session back with it (issue 10, "Failover"). Absent
   * for an Offline user. A secret, as the store's other contents are.
   */
  token?: string;
  /**
   * The cluster node its client talks through, as the adapter saw it
   * (runtime/durable_server.ts): where the next leader reaches a restored
   * session before the client sends anything. A hint, never trusted.
   */
  node?: string;
  /**
   * The claim (issue 14): the Ed25519 public key bound to the name and the
   * X25519 key bound with it, both base64url.
   */
  claim?: { key: string; agreementKey?: string };
}

/**
 * A request to the user-record store.
 *
 * - `put`: store `record`. A `claim` put is a first claim and must be
 *   compare-and-set: stored only if the store binds no other key to the
 *   name. Every put keeps a claim the store already has when `record`
 *   carries none (a claim is only ever removed by `delete`).
 * - `delete`: the name is forgotten.
 *
 * `id` numbers requests (from 1) so that results find their request.
 */
export type UserRecordRequest =
  | { op: "put"; id: number; record: UserRecord; claim?: true }
  | { op: "delete"; id: number; name: string };

/**
 * The store's answer to a {@linkcode UserRecordRequest} with the same `id`:
 * `saved`, `taken` (another key is bound to the name: nothing written) or
 * `unavailable` (the store did not answer) for a put; `deleted` or
 * `unavailable` for a delete.
 */
export type UserRecordResult =
  | { op: "put"; id: number; outcome: "saved" | "taken" | "unavailable" }
  | { op: "delete"; id: number; outcome: "deleted" | "unavailable" };

/** A first claim waiting for its record: where to answer. */
export interface HeldClaim {
  /** The record to store, with its claim. */
  record: UserRecord;
  /** Where the claiming `reg` came from. */
  from: Address;
  /** The `reg`'s datagram id. */
  id: number;
  /** The `reg`'s size in bytes (the amplification guard). */
  size: number;
}

/** What to do once a held first claim is decided. */
export interface HoldOptions {
  /** The current time (ms). */
  now: number;
  /** Goes on with the registration: the record is stored (ms: when). */
  then: (now: number) => void;
  /** Undoes what was reserved: the claim was refused (already answered). */
  refused?: () => void;
}

/** Options of {@linkcode UserRecords}. */
export interface UserRecordsOptions {
  /** `external`: records go to a durable store; `memory`: nothing is kept. */
  store: "memory" | "external";
  /** Answers the held registrations. */
  responses: () => ResponseCache;
  /** Counts a failed write or a refused claim. */
  drop: (reason: ServerDropReason) => void;
}

/**
 * The record `put` merged into what the store holds, or `undefined` when
 * the store binds another key to the name: the rule every durable store of
 * user records follows (runtime/nats_users.ts). A claim the store holds is
 * never removed by a put; a put with another claim key is not stored.
 *
 * @param put The record to store.
 * @param held The store's record, if any.
 * @returns The record to store, or `undefined` (`taken`).
 */
export function mergeUserRecord(
  put: UserRecord,
  held: UserRecord | undefined,
): UserRecord | undefined {
  const claim = held?.claim;
  if (claim === undefined) return put;
  if (put.claim === undefined) {
    // The store's claim stays, with the X25519 key bound to it.
    const merged: UserRecord = { ...put, claim };
    if (claim.agreementKey !== undefined) {
      merged.agreementKey = claim.agreementKey;
    }
    return merged;
  }
  return put.claim.key === claim.key ? put : undefined;
}

/**
 * The record of a user as it stands.
 *
 * @param user The user.
 * @param options When (ms since the epoch) and its claim, if claimed.
 * @returns The record to store.
 */
export function recordOf(
  user: User,
  options: { now: number; claim?: UserRecord["claim"] },
): UserRecord {
  const record: UserRecord = {
    name: user.name,
    order: user.order,
    address: { hostname: user.address.hostname, port: user.address.port },
    online: user.online,
    lastSeen: options.now,
  };
  if (user.transient === true) record.transient = true;
  if (user.agreementKey !== undefined) {
    record.agreementKey = user.agreementKey;
  }
  if (user.online && user.token !== "") record.token = user.token;
  if (options.claim !== undefined) record.claim = options.claim;
  return record;
}

/**
 * A user brought back from its record by a new leader: Offline, with no
 * token, at its last address (shown, never trusted), with its X25519 key
 * and claimed flag. Sessions bring its session back when the record has
 * one (server/sessions.ts, `restore`).
 *
 * @param record The stored record.
 * @param order Its registration order on this server.
 * @returns The user.
 */
export function restoredUser(record: UserRecord, order: number): User {
  const user: User = {
    name: record.name,
    order,
    address: { ...record.address },
    online: false,
    token: "",
    probing: false,
    // Every field set at once, in the order a new user's are (sessions.ts):
    // one shape for every user, no separate property store.
    transient: false,
    agreementKey: record.agreementKey,
    claimed: record.claim !== undefined,
  };
  return user;
}

/**
 * When each restored name's expiry clock started, oldest first (the order
 * `NameExpiry` keeps): when it went Offline, or `now` for a user Online
 * when its record was written (it was alive until the leader changed).
 *
 * @param records The restored records.
 * @param now The current time (ms since the epoch).
 * @returns Names and start times (ms), oldest first.
 */
export function expiryStarts(
  records: readonly UserRecord[],
  now: number,
): Array<{ name: string; since: number }> {
  return records.map((r) => ({
    name: r.name,
    since: r.online ? now : Math.min(r.lastSeen, now),
  })).sort((a, b) => a.since - b.since);
}

/**
 * The core's side of the user-record store: requests not yet taken, and the
 * held first claims waiting for their answer.
 *
 * @example Usage
 * ```ts
 * import { UserRecords } from "./user_records.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const records = new UserRecords({
 *   store: "memory",
 *   responses: () => { throw new Error("unused"); },
 *   drop: () => {},
 * });
 * records.forget("userA");
 * assertEquals(records.takeRequests(), []);
 * ```
 */
export class UserRecords {
  #options: UserRecordsOptions;
  #requests: UserRecordRequest[] = [];
  #nextId = 1;
  // Best-effort puts awaiting an answer, by request id.
  #puts = new Set<number>();
  // Held first claims by request id, and by name.
  #held = new Map<number, { claim: HeldClaim; options: HoldOptions }>();
  #heldNames = new Set<string>();
  // Names the store has (or may have) a record of: only those are deleted.
  #known = new Set<string>();

  /** @param options The store mode, the response cache and the counters. */
  constructor(options: UserRecordsOptions) {
    this.#options = options;
  }

  /** Whether records go to a durable store (`store: "external"`). */
  get durable(): boolean {
    return this.#options.store === "external";
  }

  /** Whether a first claim of `name` is waiting for its record. */
  isHeld(name: string): boolean {
    return this.#heldNames.has(name);
  }

  /**
   * A record restored from the store: its name has a record. A transient
   * session's record is deleted instead of restored.
   *
   * @returns Whether to restore it (`false` for a transient session's).
   */
  restored(record: UserRecord): boolean {
    if (this.durable) this.#known.add(record.name);
    if (record.transient !== true) return true;
    this.forget(record.name);
    return false;
  }

  /** Stores a record, best effort (nothing with the in-memory store). */
  put(record: UserRecord): void {
    if (!this.durable) return;
    const id = this.#nextId++;
    this.#known.add(record.name);
    this.#puts.add(id);
    this.#requests.push({ op: "put", id, record });
  }

  /** Deletes the record of a name that is forgotten, if it has one. */
  forget(name: string): void {
    if (!this.durable || !this.#known.delete(name)) return;
    this.#requests.push({ op: "delete", id: this.#nextId++, name });
  }

  /**
   * Holds a first claim until its record is stored: the `reg` is marked
   * busy (repeats are dropped), a compare-and-set put is queued, and `then`
   * runs once it is `saved`; a refusal is answered here (`claimed` or
   * `store_unavailable`), then `refused` runs.
   *
   * @param claim The record and the `reg` to answer.
   * @param options The current time (ms) and what to do once decided.
   * @returns `false` with the in-memory store (nothing held: go on at once).
   */
  hold(claim: HeldClaim, options: HoldOptions): boolean {
    if (!this.durable) return false;
    const id = this.#nextId++;
    this.#options.responses().markBusy(claim.from, claim.id, options.now);
    this.#held.set(id, { claim, options });
    this.#heldNames.add(claim.record.name);
    this.#requests.push({ op: "put", id, record: claim.record, claim: true });
    return true;
  }

  /** Takes the requests made since the last call, oldest first. */
  takeRequests(): UserRecordRequest[] {
    return this.#requests.splice(0);
  }

  /**
   * Learns a request's outcome: a held claim is welcomed (`saved`) or
   * refused; a failed best-effort write is counted.
   */
  handleResult(result: UserRecordResult, now: number): void {
    if (this.#puts.delete(result.id)) {
      if (result.outcome !== "saved") this.#options.drop("user_record_unsaved");
      return;
    }
    const held = this.#held.get(result.id);
    if (held === undefined) {
      if (result.outcome === "unavailable") {
        this.#options.drop("user_record_unsaved");
      }
      return;
    }
    this.#held.delete(result.id);
    const { claim, options } = held;
    this.#heldNames.delete(claim.record.name);
    const responses = this.#options.responses();
    responses.forget(claim.from, claim.id);
    if (result.outcome === "saved") {
      this.#known.add(claim.record.name);
      return options.then(now);
    }
    options.refused?.();
    const answer = { requestSize: claim.size, now };
    if (result.outcome === "taken") {
      this.#options.drop("claim_refused");
      return responses.respond(claim.from, {
        t: "err",
        id: claim.id,
        code: "claimed",
        name: claim.record.name,
      }, answer);
    }
    this.#options.drop("user_record_unsaved");
    responses.respond(claim.from, {
      t: "err",
      id: claim.id,
      code: "store_unavailable",
      name: claim.record.name,
    }, answer);
  }
}
