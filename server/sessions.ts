/**
 * Sessions: who is registered, from where, with which token. Registration
 * (the cookie round trip that proves an address, a name's duplicate-login
 * probe in `duplicate_login.ts`, the quotas in `name_quota.ts`), the token
 * and address indexes, and going Offline with what that entails for the
 * other parts.
 *
 * @module
 */
import { type Address, addressKey, sameAddress } from "../protocol/address.ts";
import { checkCookie, makeCookie } from "../protocol/cookie.ts";
import type { RegMessage, WelcomeMessage } from "../protocol/messages.ts";
import { TOKEN_BYTES } from "./constants.ts";
import type { Deliveries } from "./deliveries.ts";
import type { ServerEvent } from "./events.ts";
import { randomHex } from "./ids.ts";
import type { Notices } from "./notices.ts";
import type { Relay, Requester } from "./relay.ts";
import type { ReliableSender } from "./reliable_sender.ts";
import type { ResponseCache } from "./response_cache.ts";
import type { ServerDropReason } from "./stats.ts";
import type { StoredDelivery } from "./stored_delivery.ts";
import type { TableReplication } from "./table_replication.ts";
import type { User, UserDirectory } from "./user.ts";
import { NameExpiry } from "./name_expiry.ts";
import { skeleton } from "../protocol/confusables.ts";
import { Claims } from "./claims.ts";
import { NameQuota } from "./name_quota.ts";
import { type Login, probeOldSession } from "./duplicate_login.ts";
import {
  expiryStarts,
  recordOf,
  restoredUser,
  SIGNED_REG_BYTES,
  type UserRecord,
  type UserRecords,
} from "./user_records.ts";

/**
 * Why a user goes Offline: it deregistered, or it stopped answering (a
 * delivery or a stored message was not ACKed, or another name took its
 * address).
 */
export type OfflineReason = "dereg" | "lost";

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

/** The registered users and their sessions. */
export class Sessions implements UserDirectory {
  #options: SessionsOptions;
  #users = new Map<string, User>();
  #byToken = new Map<string, User>();
  #byAddress = new Map<string, User>();
  #online = 0;
  // Registration order of the next new user (rows may be removed).
  #nextOrder = 0;
  #quota: NameQuota;
  #expiry: NameExpiry;
  // The confusable skeleton (UTS #39) of every registered name, to its name.
  #skeletons = new Map<string, string>();
  #claims: Claims;

  /** @param options The parts, the cookie key and the limits. */
  constructor(options: SessionsOptions) {
    this.#options = options;
    this.#claims = new Claims(options.random);
    this.#quota = new NameQuota(options);
    this.#expiry = new NameExpiry(options.offlineNameTtlMs ?? Infinity);
  }

  /** How many users are registered. */
  get size(): number {
    return this.#users.size;
  }

  /** How many users are Online. */
  get onlineCount(): number {
    return this.#online;
  }

  /** The user with this name, if registered. */
  get(name: string): User | undefined {
    return this.#users.get(name);
  }

  /** Every registered user, in registration order. */
  all(): Iterable<User> {
    return this.#users.values();
  }

  /** Whether an address is proven: a user is Online there. */
  isProven(address: Address): boolean {
    return this.#byAddress.get(addressKey(address))?.online === true;
  }

  /** The user registered at an address, if any (for its transit keys). */
  userAt(address: Address): User | undefined {
    return this.#byAddress.get(addressKey(address));
  }

  /** The user a token belongs to, if it is used from that user's address. */
  authenticate(token: string, from: Address): User | undefined {
    const user = this.#byToken.get(token);
    return user !== undefined && sameAddress(user.address, from)
      ? user
      : undefined;
  }

  /** A registration (`reg`). */
  register(reg: Registration, now: number): void {
    const { message: m, from, size } = reg;
    const responses = this.#options.responses();
    const existing = this.#users.get(m.name);
    const transient = m.transient === 1;
    // A first claim of this name waits for its durable record (user_records.ts).
    if (this.#options.records?.isHeld(m.name)) {
      return this.#options.drop("busy");
    }
    // Claimed names (issue 14): a key, a fresh challenge and a signature.
    const claim = this.#claims.check(reg, now);
    if (claim.kind === "refused") {
      this.#options.drop("claim_refused");
      return responses.respond(from, {
        t: "err",
        id: m.id,
        code: "claimed",
        name: m.name,
      }, { requestSize: size, now });
    }
    if (claim.kind === "challenge") {
      if (m.ch !== undefined) this.#options.drop("stale_challenge");
      const ck = makeCookie(this.#options.cookieKey, from, { now });
      const ch = this.#claims.challenge({ to: from, name: m.name }, now);
      return responses.answerOnce(from, { t: "retry", id: m.id, ck, ch }, {
        requestSize: size,
        now,
      });
    }
    const proven = claim.kind === "proven" ? claim.publicKey : undefined;
    const tokenOk = existing !== undefined && m.tok !== undefined &&
      m.tok === existing.token && sameAddress(existing.address, from);
    // A challenge answered from this address proves the address as a cookie does.
    if (!tokenOk && proven === undefined) {
      const { cookieKey } = this.#options;
      if (
        m.ck === undefined ||
        !checkCookie(cookieKey, from, { cookie: m.ck, now })
      ) {
        if (m.ck !== undefined) this.#options.drop("bad_cookie");
        const ck = makeCookie(cookieKey, from, { now });
        return responses.answerOnce(from, { t: "retry", id: m.id, ck }, {
          requestSize: size,
          now,
        });
      }
    }
    if (existing === undefined) {
      if (
        this.#users.size >= this.#options.maxUsers || !this.#quotaAllows(from)
      ) {
        return responses.respond(from, { t: "err", id: m.id, code: "full" }, {
          requestSize: size,
          now,
        });
      }
      const look = skeleton(m.name);
      const like = this.#skeletons.get(look);
      if (like !== undefined) {
        // A lookalike of a registered name (`userА` beside `userA`).
        return responses.respond(from, {
          t: "err",
          id: m.id,
          code: "confusable",
          name: like,
        }, { requestSize: size, now });
      }
      this.#skeletons.set(look, m.name);
      if (proven !== undefined && this.#holdNew(reg, { look, proven, now })) {
        return;
      }
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
      if (sameAddress(user.address, from)) return this.#login(user, login);
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
    if (name === user.name && !this.#claims.deregAllowed(signed)) {
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
    const { table, deliveries, stored, relay } = this.#options;
    this.#online--;
    user.online = false;
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
      this.#putRecord(user, now);
      table().changed(user, now);
      if (reason === "lost" && acked >= 0) {
        table().sendOfflineCopy(user, acked);
      }
    }
    deliveries().serveWaiting(now);
  }

  // Removes a user that is Offline: its name, token and address.
  #forget(user: User): void {
    this.#options.records?.forget(user.name);
    this.#users.delete(user.name);
    this.#skeletons.delete(skeleton(user.name));
    this.#claims.forget(user.name);
    this.#expiry.cameBack(user.name);
    this.#quota.uncount(user.name);
    if (user.token !== "") this.#byToken.delete(user.token);
    const key = addressKey(user.address);
    if (this.#byAddress.get(key) === user) this.#byAddress.delete(key);
  }

  #quotaAllows(from: Address): boolean {
    const ok = this.#quota.allows(from);
    if (!ok) this.#options.drop("quota");
    return ok;
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
    for (const name of this.#expiry.takeExpired(now)) {
      const user = this.#users.get(name);
      if (user === undefined || user.online || user.probing) continue;
      this.#forget(user);
      this.#options.table().remove(user, now);
      this.#options.forgetStored?.(name, now);
    }
  }

  // A registration with the session's token: the same session, same token.
  #refresh(user: User, login: Login): void {
    if (this.#holdClaim(user, login, (l) => this.#refresh(user, l))) return;
    if (user.token === "") this.#newToken(user);
    this.#welcome(user, login);
  }

  // A new session: a new token.
  #login(user: User, login: Login): void {
    if (this.#holdClaim(user, login, (l) => this.#login(user, l))) return;
    this.#newToken(user);
    this.#welcome(user, login);
  }

  #newToken(user: User): void {
    if (user.token !== "") this.#byToken.delete(user.token);
    user.token = randomHex(this.#options.random, TOKEN_BYTES);
    this.#byToken.set(user.token, user);
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
    if (!user.online) this.#online++;
    user.online = true;
    this.#expiry.cameBack(user.name);
    table().restart(user);
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
    table().changed(user, now);
    if (!wasOnline) stored().deliver(user, pending.messages, now);
    notices().sendHeld(user, now);
    this.#putRecord(user, now);
  }

  /**
   * Brings back the users a durable store kept (another leader's), all
   * Offline: their addresses are not trusted across leaders, their claims
   * and X25519 keys are bound, and their names' expiry clocks run from when
   * they were last seen (from `now` for those Online then). Transient
   * sessions are not brought back: their records are deleted. Names already
   * registered here are skipped.
   *
   * @param records The records, in any order.
   * @param now The current time (ms since the epoch).
   */
  restore(records: readonly UserRecord[], now: number): void {
    const back: UserRecord[] = [];
    for (const r of [...records].sort((a, b) => a.order - b.order)) {
      const look = skeleton(r.name);
      if (this.#users.has(r.name) || this.#skeletons.has(look)) continue;
      if (!this.#options.records?.restored(r)) continue;
      if (r.claim !== undefined) {
        this.#claims.bind(r.name, r.claim.key, r.claim.agreementKey);
      }
      const user = restoredUser(r, this.#nextOrder++);
      this.#users.set(r.name, user);
      this.#skeletons.set(look, r.name);
      this.#quota.count(r.name, user.address);
      this.#options.table().add(user);
      this.#options.table().changed(user, now);
      back.push(r);
    }
    for (const { name, since } of expiryStarts(back, now)) {
      this.#expiry.wentOffline(name, since);
    }
  }

  // A new user, logged in at once.
  #create(reg: Registration, login: { claim?: string; now: number }): void {
    const { message: m, from } = reg;
    const user: User = {
      name: m.name,
      order: this.#nextOrder++,
      address: from,
      online: false,
      token: "",
      probing: false,
    };
    this.#users.set(m.name, user);
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

  // A user's record, as it stands, to the durable store (best effort).
  #putRecord(user: User, now: number): void {
    const records = this.#options.records;
    if (records === undefined || !records.durable) return;
    records.put(recordOf(user, { now, claim: this.#claimOf(user.name) }));
  }

  #claimOf(name: string): UserRecord["claim"] {
    const key = this.#claims.keyOf(name);
    if (key === undefined) return undefined;
    const agreementKey = this.#claims.agreementKeyOf(name);
    return agreementKey === undefined ? { key } : { key, agreementKey };
  }

  // A first claim of a name already registered, on a durable store: the
  // login goes on once the claim's record is stored (user_records.ts).
  #holdClaim(
    user: User,
    login: Login,
    then: (login: Login) => void,
  ): boolean {
    const records = this.#options.records;
    if (
      login.claim === undefined || records === undefined ||
      this.#claims.keyOf(user.name) !== undefined
    ) return false;
    const claim = { key: login.claim, agreementKey: login.agreementKey };
    const record = recordOf({ ...user, online: true, address: login.from }, {
      now: login.now,
      claim,
    });
    const held = records.hold(
      { record, from: login.from, id: login.id, size: SIGNED_REG_BYTES },
      {
        now: login.now,
        then: (now) => {
          user.probing = false;
          this.#claims.bind(user.name, claim.key, claim.agreementKey);
          then({ ...login, now });
        },
        refused: () => (user.probing = false),
      },
    );
    if (held) user.probing = true;
    return held;
  }

  // A first claim of a new name, on a durable store: the name (and its
  // lookalikes) stays reserved, and the user is made once the claim's record
  // is stored (user_records.ts).
  #holdNew(
    reg: Registration,
    options: { look: string; proven: string; now: number },
  ): boolean {
    const records = this.#options.records;
    if (records === undefined || !records.durable) return false;
    const { message: m, from, size } = reg;
    const claim = { key: options.proven, agreementKey: m.xk };
    const record = recordOf({
      name: m.name,
      order: this.#nextOrder,
      address: from,
      online: true,
      token: "",
      probing: false,
      transient: m.transient === 1,
      agreementKey: m.xk,
    }, { now: options.now, claim });
    return records.hold({ record, from, id: m.id, size }, {
      now: options.now,
      then: (now) => {
        this.#claims.bind(m.name, claim.key, claim.agreementKey);
        this.#create(reg, { claim: options.proven, now });
      },
      refused: () => this.#skeletons.delete(options.look),
    });
  }

  // The user's address is now `from`; a user there before goes Offline.
  #moveTo(user: User, from: Address, now: number): void {
    if (
      sameAddress(user.address, from) &&
      this.#byAddress.get(addressKey(from)) === user
    ) return;
    const old = this.#byAddress.get(addressKey(user.address));
    if (old === user) this.#byAddress.delete(addressKey(user.address));
    const other = this.#byAddress.get(addressKey(from));
    if (other !== undefined && other !== user) {
      this.goOffline(other, "lost", now);
    }
    user.address = from;
    this.#byAddress.set(addressKey(from), user);
  }
}
