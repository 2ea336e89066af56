/**
 * Sessions: registration. What a `reg` must prove (`registration_proof.ts`:
 * the cookie round trip, a claimed name's signature), a name's
 * duplicate-login probe (`duplicate_login.ts`), the quotas
 * (`name_quota.ts`), claimed names (`claims.ts`, held on a durable store by
 * `claim_wait.ts`), tokens, the welcome, and users brought back from a
 * durable store. The indexes are in `user_index.ts`, going Offline and
 * forgetting names in `going_offline.ts`, the user-record writes in
 * `user_record_writes.ts`.
 *
 * @module
 */
import { type Address, sameAddress } from "../protocol/address.ts";
import type { RegMessage, WelcomeMessage } from "../protocol/messages.ts";
import { ClaimWait } from "./claim_wait.ts";
import { Claims } from "./claims.ts";
import { TOKEN_BYTES } from "./constants.ts";
import type { Deliveries } from "./deliveries.ts";
import { type Login, probeOldSession } from "./duplicate_login.ts";
import type { ServerEvent } from "./events.ts";
import { GoingOffline, type OfflineReason } from "./going_offline.ts";
import { randomHex } from "./ids.ts";
import { NameQuota } from "./name_quota.ts";
import type { Notices } from "./notices.ts";
import type { Relay, Requester } from "./relay.ts";
import { proveRegistration } from "./registration_proof.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { ServerDropReason } from "./stats.ts";
import type { StoredDelivery } from "./stored_delivery.ts";
import type { TableReplication } from "./table_replication.ts";
import type { User } from "./user.ts";
import type { UserIndex } from "./user_index.ts";
import { UserRecordWrites } from "./user_record_writes.ts";
import {
  expiryStarts,
  restoredUser,
  type UserRecord,
  type UserRecords,
} from "./user_records.ts";

export type { OfflineReason } from "./going_offline.ts";

/** A registration as it arrived. */
export interface Registration {
  /** The `reg` message. */
  message: RegMessage;
  /** Where it came from. */
  from: Address;
  /** Its size in bytes. */
  size: number;
}

/** The parts sessions drive, and what they need besides. */
export interface SessionsOptions {
  /** The registered users and their indexes. */
  users: UserIndex;
  /** Random bytes, for tokens. */
  random: (length: number) => Uint8Array;
  /** This server instance's boot id, sent in every welcome. */
  bootId: string;
  /** The key of the address-validation cookies. */
  cookieKey: Uint8Array;
  /** Most registered users. */
  maxUsers: number;
  /** Most names registered from one address:port (issue 13). */
  namesPerAddress?: number;
  /** Most names registered from one IP address, loopback exempt. */
  namesPerHost?: number;
  /** How long a name may stay Offline before it is forgotten, in ms (default: forever). */
  offlineNameTtlMs?: number;
  /** Deletes what was stored for a name being forgotten. */
  forgetStored?: (name: string, now: number) => void;
  /** User records on a durable store (none kept with the in-memory store). */
  records?: UserRecords;
  /** Answers requests. */
  responses: () => ResponseCache;
  /** Sends the duplicate-login probe. */
  sender: () => ReliableSender;
  /** The table replicas. */
  table: () => TableReplication;
  /** Live delivery queues. */
  deliveries: () => Deliveries;
  /** Offline-list delivery. */
  stored: () => StoredDelivery;
  /** Notices held for a user who is back. */
  notices: () => Notices;
  /** Saves what could not be delivered. */
  relay: () => Relay;
  /** Reports a duplicate login. */
  emit: (event: ServerEvent) => void;
  /** Counts a dropped datagram. */
  drop: (reason: ServerDropReason) => void;
  /**
   * The server's X25519 public key of this boot, sent as `sk` in the welcome
   * of a client that gave `xk` (protocol/transit_crypto.ts); absent when
   * transit sealing is off.
   */
  transitKey?: string;
}

/** Registration, and the parts it drives. */
export class Sessions {
  #options: SessionsOptions;
  #users: UserIndex;
  #quota: NameQuota;
  #claims: Claims;
  #wait: ClaimWait;
  #records: UserRecordWrites;
  #offline: GoingOffline;

  /** @param options The parts, the cookie key and the limits. */
  constructor(options: SessionsOptions) {
    this.#options = options;
    this.#users = options.users;
    const claims = this.#claims = new Claims(options.random);
    const quota = this.#quota = new NameQuota(options);
    this.#wait = new ClaimWait({ records: options.records, claims });
    const records = this.#records = new UserRecordWrites(options.records, {
      claims,
    });
    this.#offline = new GoingOffline({ ...options, claims, quota, records });
  }

  /** A registration (`reg`). */
  register(reg: Registration, now: number): void {
    const { message: m, from, size } = reg;
    const responses = this.#options.responses();
    const existing = this.#users.get(m.name);
    const transient = m.transient === 1;
    // A first claim of this name waits for its durable record (claim_wait.ts).
    if (this.#wait.isHeld(m.name)) return this.#options.drop("busy");
    const proof = proveRegistration(reg, {
      existing,
      claims: this.#claims,
      cookieKey: this.#options.cookieKey,
      responses,
      drop: this.#options.drop,
      now,
    });
    if (proof.kind === "answered") return;
    const { claim: proven, tokenOk } = proof;
    if (existing === undefined) {
      if (
        this.#users.size >= this.#options.maxUsers || !this.#quotaAllows(from)
      ) {
        return responses.respond(from, { t: "err", id: m.id, code: "full" }, {
          requestSize: size,
          now,
        });
      }
      const like = this.#users.lookalike(m.name);
      if (like !== undefined) {
        // A lookalike of a registered name (`userА` beside `userA`).
        return responses.respond(from, {
          t: "err",
          id: m.id,
          code: "confusable",
          name: like,
        }, { requestSize: size, now });
      }
      this.#users.reserve(m.name);
      if (
        proven !== undefined && this.#wait.holdNew(reg, {
          order: this.#users.nextOrder,
          proven,
          now,
          then: (now) => this.#create(reg, { claim: proven, now }),
          refused: () => this.#users.release(m.name),
        })
      ) return;
      return this.#create(reg, { claim: proven, now });
    }
    const user = existing;
    // Another claim is being checked: this one is answered once it is decided
    // (the client retransmits meanwhile).
    if (user.probing) return this.#options.drop("busy");
    const login = {
      from,
      id: m.id,
      now,
      transient,
      claim: proven,
      agreementKey: m.xk,
    };
    if (tokenOk) return this.#refresh(user, login);
    if (user.online) {
      this.#options.emit({ type: "duplicate_login", name: user.name });
      if (sameAddress(user.address, from)) {
        return this.#login(user, { ...login, quiet: true });
      }
      return probeOldSession(user, { ...reg, claim: proven }, {
        now,
        responses: this.#options.responses(),
        sender: this.#options.sender(),
        takeOver: (login) => this.#login(user, login),
      });
    }
    // Offline, by dereg or because it stopped answering: an unclaimed name is
    // not a password, so a new session may take it; a claimed one was proven
    // above (see protocol/README.md).
    this.#login(user, login);
  }

  /** A deregistration (`dereg`) from an authenticated user (going_offline.ts). */
  deregister(
    req: Requester,
    message: { id: number; name: string; sig?: string },
    now: number,
  ): void {
    this.#offline.deregister(req, message, now);
  }

  /**
   * Marks a user Offline: what was on its way to it is saved and the senders
   * told, then every client sees the table change (going_offline.ts).
   */
  goOffline(user: User, reason: OfflineReason, now: number): void {
    this.#offline.goOffline(user, reason, now);
  }

  /** When the oldest Offline name is due to be forgotten (ms), if one is. */
  get nextExpiry(): number | undefined {
    return this.#offline.nextExpiry;
  }

  /**
   * Forgets the names Offline for longer than `offlineNameTtlMs`: their rows
   * leave the table and what was stored for them is deleted.
   */
  expire(now: number): void {
    this.#offline.expire(now);
  }

  #quotaAllows(from: Address): boolean {
    const ok = this.#quota.allows(from);
    if (!ok) this.#options.drop("quota");
    return ok;
  }

  // A registration with the session's token: the same session, same token.
  #refresh(user: User, login: Login): void {
    const then = (l: Login) => this.#refresh(user, l);
    if (this.#wait.holdLogin(user, { login, then })) return;
    if (user.token === "") this.#newToken(user);
    this.#welcome(user, login);
  }

  // A new session: a new token.
  #login(user: User, login: Login): void {
    const then = (l: Login) => this.#login(user, l);
    if (this.#wait.holdLogin(user, { login, then })) return;
    this.#newToken(user);
    this.#welcome(user, login);
  }

  #newToken(user: User): void {
    this.#users.setToken(user, randomHex(this.#options.random, TOKEN_BYTES));
  }

  #welcome(user: User, login: Login): void {
    const { from, id, now } = login;
    user.transient = login.transient;
    if (login.claim !== undefined) {
      this.#claims.bind(user.name, login.claim, login.agreementKey);
    }
    user.agreementKey = login.agreementKey;
    user.claimed = this.#claims.keyOf(user.name) !== undefined;
    const { table, stored, notices } = this.#options;
    this.#moveTo(user, from, now);
    const wasOnline = user.online;
    this.#users.setOnline(user, true);
    this.#offline.cameBack(user.name);
    // A re-login from the same address changes no printed field: quiet.
    const quiet = login.quiet === true && wasOnline;
    table().restart(user, { quiet });
    const pending = stored().pending(user);
    const welcome: WelcomeMessage = {
      t: "welcome",
      id,
      tok: user.token,
      off: wasOnline ? 0 : pending.messages.length,
      boot: this.#options.bootId,
    };
    if (welcome.off > 0) welcome.o0 = pending.firstIndex;
    const sk = this.#options.transitKey;
    if (sk !== undefined && user.agreementKey !== undefined) welcome.sk = sk;
    this.#options.responses().respond(from, welcome, { requestSize: 0, now });
    table().changed(user, now, { quiet });
    if (!wasOnline) stored().deliver(user, pending.messages, now);
    notices().sendHeld(user, now);
    this.#records.put(user, now);
  }

  /**
   * Brings back the users a durable store kept (another leader's), claims
   * and X25519 keys bound. One Online in its record, with its token, comes
   * back Online with that session at its address when `keepSession` allows
   * (leader_restore.ts). Every other one comes back Offline, its address
   * shown but not trusted, its name's expiry clock running from when it was
   * last seen (from `now` for one Online then). Transient sessions' records
   * are deleted; names already registered here are skipped.
   *
   * @param records The records, in any order.
   * @param options The current time (ms since the epoch), and whether a
   * record's session may be kept.
   * @returns The users brought back Online, with their sessions.
   */
  restore(
    records: readonly UserRecord[],
    options: { now: number; keepSession: (record: UserRecord) => boolean },
  ): User[] {
    const { now, keepSession } = options;
    const back: UserRecord[] = [];
    const online: User[] = [];
    const rows: { user: User; quiet: boolean; kept: boolean }[] = [];
    const gone: string[] = [];
    for (const r of [...records].sort((a, b) => a.order - b.order)) {
      if (
        this.#users.get(r.name) !== undefined ||
        this.#users.lookalike(r.name) !== undefined ||
        !this.#options.records?.restored(r)
      ) {
        gone.push(r.name);
        continue;
      }
      if (r.claim !== undefined) {
        this.#claims.bind(r.name, r.claim.key, r.claim.agreementKey);
      }
      const user = restoredUser(r, this.#users.takeOrder());
      this.#users.reserve(r.name);
      this.#users.add(user);
      this.#quota.count(r.name, user.address);
      const kept = r.online && r.token !== undefined && keepSession(r) &&
        this.#users.userAt(user.address) === undefined;
      if (kept) {
        this.#users.setToken(user, r.token!);
        this.#users.bindAddress(user, user.address);
        this.#users.setOnline(user, true);
        online.push(user);
      } else back.push(r);
      // As the last leader's table had it (Online kept, Offline still
      // Offline): quiet. Online there, Offline here: a change to print.
      rows.push({ user, quiet: kept || !r.online, kept });
    }
    this.#options.table().restored(rows, { now, gone });
    for (const { name, since } of expiryStarts(back, now)) {
      this.#offline.offlineSince(name, since);
    }
    return online;
  }

  // A new user, logged in at once.
  #create(reg: Registration, login: { claim?: string; now: number }): void {
    const { message: m, from } = reg;
    const user: User = {
      name: m.name,
      order: this.#users.takeOrder(),
      address: from,
      online: false,
      token: "",
      probing: false,
      // Set by the welcome; here so that every user keeps one shape, its
      // fields inside the object (no separate property store per user).
      transient: false,
      agreementKey: undefined,
      claimed: false,
    };
    this.#users.add(user);
    this.#quota.count(m.name, from);
    this.#options.table().add(user);
    this.#login(user, {
      from,
      id: m.id,
      now: login.now,
      transient: m.transient === 1,
      claim: login.claim,
      agreementKey: m.xk,
    });
  }

  // The user's address is now `from`; a user there before goes Offline.
  #moveTo(user: User, from: Address, now: number): void {
    if (this.#users.isAt(user, from)) return;
    this.#users.unbindAddress(user);
    const other = this.#users.userAt(from);
    if (other !== undefined && other !== user) {
      this.goOffline(other, "lost", now);
    }
    this.#users.bindAddress(user, from);
  }
}
