/**
 * Going Offline, and names forgotten (`SEMANTICS.md`; issue 13): a user
 * deregisters (`dereg`, signed for a claimed name) or stops answering; one
 * marked Offline has what was on its way to it saved and its senders told,
 * then every client sees the table change; a transient session (`--exec`)
 * leaves no Offline row; a name Offline longer than `offlineNameTtlMs` is
 * forgotten with what was stored for it (`name_expiry.ts`). Registration is
 * in `sessions.ts`.
 *
 * @module
 */
import type { Claims } from "./claims.ts";
import type { Deliveries } from "./deliveries.ts";
import { NameExpiry } from "./name_expiry.ts";
import type { NameQuota } from "./name_quota.ts";
import type { Relay, Requester } from "./relay.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { ServerDropReason } from "./stats.ts";
import type { StoredDelivery } from "./stored_delivery.ts";
import type { TableReplication } from "./table_replication.ts";
import type { User } from "./user.ts";
import type { UserIndex } from "./user_index.ts";
import type { UserRecordWrites } from "./user_record_writes.ts";

/**
 * Why a user goes Offline: it deregistered, or it stopped answering (a
 * delivery or a stored message was not ACKed, or another name took its
 * address).
 */
export type OfflineReason = "dereg" | "lost";

/** What going Offline touches. */
export interface GoingOfflineOptions {
  /** The registered users. */
  users: UserIndex;
  /** The bound keys (a forgotten name's claim goes). */
  claims: Claims;
  /** Names per address and host (a forgotten name is uncounted). */
  quota: NameQuota;
  /** The user-record writes. */
  records: UserRecordWrites;
  /** How long a name may stay Offline before it is forgotten, in ms (default: forever). */
  offlineNameTtlMs?: number;
  /** Deletes what was stored for a name being forgotten. */
  forgetStored?: (name: string, now: number) => void;
  /** The table replicas. */
  table: () => TableReplication;
  /** Live delivery queues. */
  deliveries: () => Deliveries;
  /** Offline-list delivery. */
  stored: () => StoredDelivery;
  /** Saves what could not be delivered. */
  relay: () => Relay;
  /** Answers `dereg`. */
  responses: () => ResponseCache;
  /** Counts a refused `dereg`. */
  drop: (reason: ServerDropReason) => void;
}

/** Deregisters users, marks them Offline, forgets names nobody comes back for. */
export class GoingOffline {
  #options: GoingOfflineOptions;
  #expiry: NameExpiry;

  /** @param options The parts it touches and the name expiry's TTL. */
  constructor(options: GoingOfflineOptions) {
    this.#options = options;
    this.#expiry = new NameExpiry(options.offlineNameTtlMs ?? Infinity);
  }

  /** A deregistration (`dereg`) from an authenticated user. */
  deregister(
    req: Requester,
    message: { id: number; name: string; sig?: string },
    now: number,
  ): void {
    const { user } = req;
    const { id, name } = message;
    const responses = this.#options.responses();
    const answer = { requestSize: req.size, now };
    const signed = { name, tok: user.token, id, sig: message.sig };
    if (name === user.name && !this.#options.claims.deregAllowed(signed)) {
      this.#options.drop("claim_refused");
      return responses.respond(req.from, {
        t: "err",
        id,
        code: "claimed",
        name,
      }, answer);
    }
    if (name !== user.name) {
      return responses.respond(req.from, {
        t: "err",
        id,
        code: "not_registered",
        name,
      }, answer);
    }
    responses.respond(req.from, { t: "ack", id }, answer);
    if (user.online) this.goOffline(user, "dereg", now);
  }

  /**
   * Marks a user Offline: what was on its way to it is saved and the senders
   * told, then every client sees the table change.
   */
  goOffline(user: User, reason: OfflineReason, now: number): void {
    if (!user.online) return;
    const { users, table, deliveries, stored, relay } = this.#options;
    users.setOnline(user, false);
    const acked = table().stop(user);
    const failed = deliveries().takeFailed(user);
    stored().forget(user);
    // Senders hear what became of their messages, then everyone sees the table.
    for (const d of failed) relay().saveUndelivered(user, d, now);
    if (user.transient && !user.probing) {
      // A transient session (`--exec`) leaves no Offline row behind, and
      // nothing is stored for a name that is gone.
      this.#forget(user);
      table().remove(user, now);
    } else {
      this.#expiry.wentOffline(user.name, now);
      this.#options.records.put(user, now);
      table().changed(user, now);
      if (reason === "lost" && acked >= 0) {
        table().sendOfflineCopy(user, acked);
      }
    }
    deliveries().serveWaiting(now);
  }

  /** A name is Online again: its expiry clock stops. */
  cameBack(name: string): void {
    this.#expiry.cameBack(name);
  }

  /**
   * A name restored Offline from a durable store: its expiry clock runs from
   * `since` (ms since the epoch). Call oldest first.
   */
  offlineSince(name: string, since: number): void {
    this.#expiry.wentOffline(name, since);
  }

  /** When the oldest Offline name is due to be forgotten (ms), if one is. */
  get nextExpiry(): number | undefined {
    return this.#expiry.nextDeadline;
  }

  /**
   * Forgets the names Offline for longer than `offlineNameTtlMs`: their rows
   * leave the table and what was stored for them is deleted.
   */
  expire(now: number): void {
    const { users, table, forgetStored } = this.#options;
    for (const name of this.#expiry.takeExpired(now)) {
      const user = users.get(name);
      if (user === undefined || user.online || user.probing) continue;
      this.#forget(user);
      table().remove(user, now);
      forgetStored?.(name, now);
    }
  }

  // Removes a user that is Offline: its name, token and address.
  #forget(user: User): void {
    this.#options.records.forget(user.name);
    this.#options.users.remove(user);
    this.#options.claims.forget(user.name);
    this.#expiry.cameBack(user.name);
    this.#options.quota.uncount(user.name);
  }
}
