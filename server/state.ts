/**
 * The server's rules as a sans-I/O state machine: datagrams and the current
 * time go in; datagrams to send, lines to print and the next timer deadline
 * come out. No sockets, no timers, no clock.
 *
 * @module
 */
import { type Address, addressKey, sameAddress } from "../protocol/address.ts";
import {
  decodeMessage,
  type DropReason,
  encodeMessage,
} from "../protocol/codec.ts";
import { ACK_WINDOW_MS, TABLE_FLUSH_MS } from "../protocol/constants.ts";
import { checkCookie, makeCookie } from "../protocol/cookie.ts";
import type { Datagram } from "../protocol/datagram.ts";
import { RecentMap } from "../protocol/dedup.ts";
import type { OutputEvent } from "../protocol/events.ts";
import type {
  AllMessage,
  Message,
  NoteKind,
  RegMessage,
  Row,
  SaveMessage,
} from "../protocol/messages.ts";
import { RateLimiter } from "../protocol/rate_limit.ts";
import { Reassembler } from "../protocol/reassembly.ts";
import { Retransmitter } from "../protocol/_legacy_reliable.ts";
import {
  chunkEncodedRows,
  type EncodedRow,
  encodeRow,
  encodeTablePart,
} from "../protocol/table.ts";
import { splitText } from "../protocol/text.ts";
import { formatStamp } from "../protocol/time.ts";
import { OfflineStore, type Stored, type StoreLimits } from "./_store.ts";

/** Limits the server enforces. */
export interface ServerLimits extends StoreLimits {
  /** Most registered users. */
  maxUsers: number;
  /** Most datagrams awaiting an ACK at once. */
  maxPending: number;
  /** Datagrams a source may send at once. */
  rateBurst: number;
  /** Datagrams per second a source may send after its burst. */
  rateLimit: number;
}

/** The default limits. */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  maxUsers: 200_000,
  maxPending: 100_000,
  perUser: 1_000,
  bytesPerUser: 1 << 20,
  total: 200_000,
  bytesTotal: 256 << 20,
  rateBurst: 200,
  rateLimit: 1_000,
};

/** Options for {@linkcode ServerState}. */
export interface ServerOptions {
  /** Random bytes: tokens, cookie key and id seeds come from here. */
  random: (length: number) => Uint8Array;
  /** Overrides of {@linkcode DEFAULT_SERVER_LIMITS}. */
  limits?: Partial<ServerLimits>;
}

/** Counters the server keeps. */
export interface ServerStats {
  /** Datagrams received. */
  datagramsIn: number;
  /** Datagrams handed out for sending. */
  datagramsOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes handed out for sending. */
  bytesOut: number;
  /** Retransmitted datagrams. */
  retransmissions: number;
  /** Dropped datagrams by reason. */
  dropped: Record<string, number>;
}

interface User {
  name: string;
  order: number;
  addr: Address;
  online: boolean;
  tok: string;
  leftBy: "dereg" | "lost" | null;
  ackedVer: number;
  /** The table transfer under way: parts not yet ACKed, the next to send. */
  syncing: {
    ver: number;
    left: number;
    from: number | undefined;
    parts: string[][];
    next: number;
  } | null;
  queue: Delivery[];
  inFlight: Delivery | null;
  /** Stored messages being delivered, each with its copy in the current list. */
  delivering: Map<Stored, { left: number }>;
  probing: boolean;
  /** The last offline-list index given out, so lists of two logins never mix. */
  offSeq: number;
  /** Table transfers in a row that were never ACKed. */
  tableFails: number;
  /** Notices that came while the user was Offline. */
  notes: Message[];
  /** This user's table row, encoded once per change. */
  row: EncodedRow;
}

interface Delivery {
  /** For a group message: recipients not yet resolved, shared by its deliveries. */
  group?: { left: number };
  from: string;
  g: 0 | 1;
  text: string;
  k: string;
  partsLeft: number;
  ids: number[];
}

type Pending =
  | { kind: "tbl"; user: User; ver: number }
  | { kind: "msg"; user: User; delivery: Delivery }
  | { kind: "stored"; user: User; stored: Stored; state: { left: number } }
  | { kind: "note"; user: User; note: Message; tries: number }
  | {
    kind: "ping";
    user: User;
    newcomer: Address;
    req: RegMessage;
    reqSize: number;
  };

interface Requester {
  user: User;
  from: Address;
  size: number;
}

const BUSY = "busy";
// Table transfers and notices: not bound by the seed's 500 ms window.
const BULK_WINDOW_MS = 5_000;
const BULK_MAX_BACKOFF_MS = 1_000;
const PING_WINDOW_MS = 300;
// Most table datagrams awaiting an ACK at once: a registration storm must not
// bury the server's answers, or its clients, in table updates.
const TABLE_WINDOW = 1_024;
// Most table datagrams awaiting an ACK from one client: the rest of its
// transfer follows as those are ACKed, so a snapshot of a big room (300
// datagrams for 10,000 users) does not overflow the client's socket buffer.
const CLIENT_TABLE_WINDOW = 32;
// Most message deliveries awaiting an ACK at once: a group message to a big
// room goes out in waves, each recipient's 500 ms window starting when its
// turn comes; all at once, their ACKs came back after the retransmission
// timeout and the copies buried the server.
const DELIVERY_WINDOW = 256;
// The first retransmission of a table datagram waits at least this long: in a
// storm the ACKs come back later than the chat's RTO (at most 80 ms), and
// retransmitting at that pace more than doubled the table traffic.
const TABLE_MIN_TIMEOUT_MS = 250;
const MAX_HELD_NOTES = 100;
// Windows a notice to an Online sender gets after its first, before it is dropped.
const NOTE_RETRIES = 3;

/**
 * The udpchat server as a state machine.
 *
 * @example Usage
 * ```ts
 * import { ServerState } from "./state.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const server = new ServerState({ random: (n) => new Uint8Array(n) });
 * assertEquals(server.getTimer(), undefined);
 * assertEquals(server.datagramsToSend(), []);
 * ```
 */
export class ServerState {
  #out: Datagram[] = [];
  #events: OutputEvent[] = [];
  #retx: Retransmitter<Pending>;
  #users = new Map<string, User>();
  #byToken = new Map<string, User>();
  #byAddress = new Map<string, User>();
  #store: OfflineStore;
  #limits: ServerLimits;
  #random: (length: number) => Uint8Array;
  #cookieKey: Uint8Array;
  #responses = new RecentMap<string, Uint8Array | typeof BUSY>({
    capacity: 200_000,
  });
  #limiter: RateLimiter;
  #reassembler = new Reassembler();
  #nextId: number;
  #nextOrder = 0;
  #session: string;
  #ver = 0;
  #tablePending = 0;
  #deliveries = 0;
  #waiting = new Set<User>();
  #starved = false;
  #flushFrom = 0;
  #online = 0;
  #log: { ver: number; name: string }[] = [];
  #flushAt: number | undefined;
  #lastFlush = -Infinity;
  #stats: ServerStats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmissions: 0,
    dropped: {},
  };

  /** @param options Randomness and limits. */
  constructor(options: ServerOptions) {
    this.#random = options.random;
    this.#limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.#store = new OfflineStore(this.#limits);
    this.#limiter = new RateLimiter({
      burst: this.#limits.rateBurst,
      rate: this.#limits.rateLimit,
    });
    this.#retx = new Retransmitter<Pending>(this.#out);
    this.#cookieKey = this.#random(32);
    const seed = this.#random(4);
    this.#nextId = ((seed[0] << 16) | (seed[1] << 8) | seed[2]) * 64 + 1;
    this.#session = this.#hex(4);
  }

  /** The users in registration order, as table rows. */
  get table(): Row[] {
    return [...this.#users.values()].map((u) => this.#row(u));
  }

  /** Counters of traffic and drops, plus gauges. */
  stats(): ServerStats & {
    users: number;
    online: number;
    offlineMessages: number;
    pending: number;
  } {
    let online = 0;
    for (const u of this.#users.values()) if (u.online) online++;
    return {
      ...this.#stats,
      dropped: { ...this.#stats.dropped },
      retransmissions: this.#retx.retransmissions,
      users: this.#users.size,
      online,
      offlineMessages: this.#store.count,
      pending: this.#retx.size,
    };
  }

  /** The one-line status the `stats` command prints. */
  statsLine(): string {
    const s = this.stats();
    const dropped = Object.entries(s.dropped).map(([k, v]) => `${k}=${v}`)
      .join(" ") || "none";
    return `[Stats: users=${s.users} online=${s.online} offline_messages=${s.offlineMessages} pending=${s.pending} in=${s.datagramsIn} out=${s.datagramsOut} bytes_in=${s.bytesIn} bytes_out=${s.bytesOut} retransmitted=${s.retransmissions} dropped: ${dropped}]`;
  }

  /** Handles one received datagram. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.#stats.datagramsIn++;
    this.#stats.bytesIn += bytes.length;
    // ACKs are exempt: they are cheap, never answered, and a client ACKing a
    // big snapshot sends many at once.
    const decoded = decodeMessage(bytes);
    const isAck = decoded.ok && decoded.message.t === "ack";
    if (!isAck && !this.#limiter.allow(addressKey(from), now)) {
      return this.#drop("rate");
    }
    if (!decoded.ok) return this.#drop(decoded.reason);
    this.#handle(decoded.message, from, bytes.length, now);
  }

  /** Handles the timer: retransmissions, timeouts and table flushes. */
  handleTimer(now: number): void {
    for (const p of this.#retx.poll(now)) this.#expired(p, now);
    if (this.#flushAt !== undefined && this.#flushAt <= now) this.#flush(now);
  }

  /** The next time {@linkcode handleTimer} must run, if any. */
  getTimer(): number | undefined {
    const r = this.#retx.nextTimer();
    const f = this.#flushAt;
    if (r === undefined) return f;
    return f === undefined ? r : Math.min(r, f);
  }

  /** Takes the datagrams to send. */
  datagramsToSend(): Datagram[] {
    const out = this.#out.splice(0);
    this.#stats.datagramsOut += out.length;
    for (const d of out) this.#stats.bytesOut += d.bytes.length;
    return out;
  }

  /** Takes the lines to print. */
  events(): OutputEvent[] {
    return this.#events.splice(0);
  }

  // ---- input ------------------------------------------------------------

  #drop(reason: DropReason | string): void {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
  }

  #handle(m: Message, from: Address, size: number, now: number): void {
    if (m.t === "ack") return this.#onAck(m.id, from, now);
    if (
      m.t !== "reg" && m.t !== "dereg" && m.t !== "all" && m.t !== "save" &&
      m.t !== "sync"
    ) {
      return this.#drop("unexpected");
    }
    const key = `${addressKey(from)}#${m.id}`;
    const cached = this.#responses.get(key, now);
    if (cached !== undefined) {
      this.#drop("duplicate");
      if (cached !== BUSY) this.#out.push({ to: from, bytes: cached });
      return;
    }
    if (m.t === "reg") return this.#onReg(m, from, size, now);
    const user = this.#byToken.get(m.tok);
    if (user === undefined || !sameAddress(user.addr, from)) {
      this.#drop("unauthenticated");
      // Not cached: the same answer is made again for a repeat, and spoofed
      // sources cannot push real answers out of the cache.
      return this.#respond(
        from,
        { t: "err", id: m.id, code: "not_registered" },
        size,
        now,
        false,
      );
    }
    const req: Requester = { user, from, size };
    switch (m.t) {
      case "dereg":
        return this.#onDereg(req, m.id, m.name, now);
      case "all":
        return this.#onAll(req, m, now);
      case "save":
        return this.#onSave(req, m, now);
      case "sync":
        if (!user.online) {
          // We gave up on it; it is here after all and will register again.
          return this.#respond(
            from,
            { t: "err", id: m.id, code: "offline" },
            size,
            now,
          );
        }
        user.ackedVer = -1;
        this.#respond(from, { t: "ack", id: m.id }, size, now);
        return this.#scheduleFlush(now);
    }
  }

  // Sends a response and remembers it, so a repeated request is answered again
  // but acted on once. Before an address is proven, a response may be at most
  // three times the request's size.
  #respond(
    to: Address,
    m: Message,
    requestSize: number,
    now: number,
    cache = true,
  ): void {
    const bytes = encodeMessage(m);
    const proven = this.#byAddress.get(addressKey(to))?.online === true;
    if (!proven && bytes.length > 3 * requestSize) {
      return this.#drop("amplification");
    }
    if (cache) this.#responses.set(`${addressKey(to)}#${m.id}`, bytes, now);
    this.#out.push({ to, bytes });
  }

  #onReg(m: RegMessage, from: Address, size: number, now: number): void {
    const existing = this.#users.get(m.name);
    const tokenOk = existing !== undefined && m.tok !== undefined &&
      m.tok === existing.tok && sameAddress(existing.addr, from);
    if (!tokenOk) {
      const ck = m.ck;
      if (
        ck === undefined ||
        !checkCookie(this.#cookieKey, from, { cookie: ck, now })
      ) {
        if (ck !== undefined) this.#drop("bad_cookie");
        const cookie = makeCookie(this.#cookieKey, from, { now });
        return this.#respond(
          from,
          { t: "retry", id: m.id, ck: cookie },
          size,
          now,
          false,
        );
      }
    }
    if (existing === undefined) {
      if (this.#users.size >= this.#limits.maxUsers) {
        return this.#respond(
          from,
          { t: "err", id: m.id, code: "full" },
          size,
          now,
        );
      }
      const user: User = {
        name: m.name,
        order: this.#nextOrder++,
        addr: from,
        online: false,
        tok: "",
        leftBy: null,
        ackedVer: -1,
        syncing: null,
        queue: [],
        inFlight: null,
        delivering: new Map(),
        probing: false,
        offSeq: 0,
        tableFails: 0,
        notes: [],
        row: { json: "", size: 0 },
      };
      this.#users.set(m.name, user);
      return this.#login(user, from, m.id, now);
    }
    const user = existing;
    // Another claim is being checked: this one is answered once it is decided
    // (the client retransmits meanwhile).
    if (user.probing) return this.#drop("busy");
    if (tokenOk) return this.#login(user, from, m.id, now, true);
    if (user.online) {
      this.#emit("status", "duplicate", "[Duplicate login detected.]", {
        name: user.name,
      });
      if (sameAddress(user.addr, from)) {
        return this.#login(user, from, m.id, now);
      }
      // Is the old session still there? Ask it before handing the name over.
      user.probing = true;
      this.#responses.set(`${addressKey(from)}#${m.id}`, BUSY, now);
      this.#sendReliable(user.addr, { t: "ping", id: 0 }, {
        kind: "ping",
        user,
        newcomer: from,
        req: m,
        reqSize: size,
      }, now);
      return;
    }
    // Offline, by dereg or because it stopped answering: names are not
    // passwords, so a new session may take it (see protocol/README.md).
    this.#login(user, from, m.id, now);
  }

  #login(
    user: User,
    from: Address,
    id: number,
    now: number,
    keepToken = false,
  ): void {
    if (!keepToken || user.tok === "") {
      if (user.tok !== "") this.#byToken.delete(user.tok);
      user.tok = this.#hex(16);
      this.#byToken.set(user.tok, user);
    }
    if (
      !sameAddress(user.addr, from) ||
      this.#byAddress.get(addressKey(from)) !== user
    ) {
      const old = this.#byAddress.get(addressKey(user.addr));
      if (old === user) this.#byAddress.delete(addressKey(user.addr));
      const other = this.#byAddress.get(addressKey(from));
      if (other !== undefined && other !== user) {
        this.#goOffline(other, "lost", now);
      }
      user.addr = from;
      this.#byAddress.set(addressKey(from), user);
    }
    const wasOnline = user.online;
    if (!user.online) this.#online++;
    user.online = true;
    user.leftBy = null;
    user.ackedVer = -1;
    user.syncing = null;
    const stored = this.#store.list(user.name).filter((s) =>
      !user.delivering.has(s)
    );
    const welcome: Message = {
      t: "welcome",
      id,
      tok: user.tok,
      off: wasOnline ? 0 : stored.length,
    };
    if (welcome.off > 0) welcome.o0 = user.offSeq + 1;
    this.#respond(from, welcome, 0, now);
    this.#changed(user, now);
    if (!wasOnline) this.#deliverStored(user, stored, now);
    for (const note of user.notes.splice(0)) {
      this.#sendReliable(
        user.addr,
        note,
        { kind: "note", user, note, tries: 0 },
        now,
      );
    }
  }

  #onDereg(req: Requester, id: number, name: string, now: number): void {
    const { user } = req;
    if (name !== user.name) {
      return this.#respond(
        req.from,
        { t: "err", id, code: "not_registered", name },
        req.size,
        now,
      );
    }
    this.#respond(req.from, { t: "ack", id }, req.size, now);
    if (user.online) this.#goOffline(user, "dereg", now);
  }

  #onAll(req: Requester, m: AllMessage, now: number): void {
    const { user } = req;
    if (!user.online) {
      return this.#respond(
        req.from,
        { t: "err", id: m.id, code: "offline" },
        req.size,
        now,
      );
    }
    const r = this.#reassembler.add(user.name, m, now);
    if (r.status === "refused") {
      return this.#respond(
        req.from,
        { t: "err", id: m.id, code: "too_big" },
        req.size,
        now,
      );
    }
    if (r.status === "partial") {
      return this.#respond(req.from, { t: "ack", id: m.id }, req.size, now);
    }
    let online = 0;
    for (const u of this.#users.values()) if (u.online && u !== user) online++;
    if (this.#retx.size + online * m.pn > this.#limits.maxPending) {
      return this.#respond(
        req.from,
        { t: "err", id: m.id, code: "full" },
        req.size,
        now,
      );
    }
    this.#respond(req.from, { t: "ack", id: m.id }, req.size, now);
    this.#emit(
      "status",
      "group",
      `[Client ${user.name} sent group message: ${r.text} ]`,
      {
        from: user.name,
        message: r.text,
      },
    );
    const group = { left: this.#users.size - 1 };
    if (group.left === 0) {
      this.#note(user.name, "done", user.name, m.k, undefined, now);
    }
    for (const u of this.#users.values()) {
      if (u === user) continue;
      const d: Delivery = {
        group,
        from: user.name,
        g: 1,
        text: r.text,
        k: m.k,
        partsLeft: 0,
        ids: [],
      };
      if (u.online) this.#enqueue(u, d, now);
      else this.#saveFailed(u, d, now);
    }
  }

  #onSave(req: Requester, m: SaveMessage, now: number): void {
    const { user } = req;
    const target = this.#users.get(m.to);
    if (target === undefined) {
      return this.#respond(
        req.from,
        { t: "err", id: m.id, code: "unknown_user", name: m.to },
        req.size,
        now,
      );
    }
    const r = this.#reassembler.add(user.name, m, now);
    if (r.status === "refused") {
      return this.#respond(
        req.from,
        { t: "err", id: m.id, code: "too_big" },
        req.size,
        now,
      );
    }
    if (r.status === "partial") {
      return this.#respond(req.from, { t: "ack", id: m.id }, req.size, now);
    }
    const d: Delivery = {
      from: user.name,
      g: 0,
      text: r.text,
      k: m.k,
      partsLeft: 0,
      ids: [],
    };
    if (target.online) {
      // The sender could not reach it: try once more from here before saving.
      this.#respond(
        req.from,
        { t: "ack", id: m.id, r: "pending" },
        req.size,
        now,
      );
      return this.#enqueue(target, d, now);
    }
    const at = formatStamp(now);
    if (
      !this.#store.add(target.name, {
        from: d.from,
        g: 0,
        text: d.text,
        k: d.k,
        at,
      })
    ) {
      return this.#respond(
        req.from,
        { t: "err", id: m.id, code: "full", name: m.to },
        req.size,
        now,
      );
    }
    this.#respond(
      req.from,
      { t: "ack", id: m.id, r: "saved", at },
      req.size,
      now,
    );
  }

  #onAck(id: number, from: Address, now: number): void {
    const acked = this.#retx.ack(id, from, now);
    if (acked === undefined) return this.#drop("stray_ack");
    const p = acked.ctx;
    switch (p.kind) {
      case "tbl": {
        this.#tableDone(now);
        const s = p.user.syncing;
        if (s === null || s.ver !== p.ver) return;
        if (s.next < s.parts.length) this.#sendTablePart(p.user, s, now);
        if (--s.left > 0) return;
        p.user.syncing = null;
        p.user.ackedVer = p.ver;
        p.user.tableFails = 0;
        if (p.ver < this.#ver) this.#scheduleFlush(now);
        return;
      }
      case "msg": {
        const d = p.delivery;
        if (--d.partsLeft > 0) return;
        p.user.inFlight = null;
        this.#deliveries--;
        if (d.g === 0) {
          this.#note(d.from, "rcv", p.user.name, d.k, undefined, now);
        }
        this.#resolved(d, now);
        this.#serveWaiting(now);
        return this.#pump(p.user, now);
      }
      case "stored": {
        if (--p.state.left > 0) return;
        const current = p.user.delivering.get(p.stored);
        // A late copy from an earlier list, the message being in a newer one
        // (the user registered again meanwhile): that one decides.
        if (current !== undefined && current !== p.state) return;
        p.user.delivering.delete(p.stored);
        // Removed already (delivered by another copy): its sender was told.
        if (!this.#store.list(p.user.name).includes(p.stored)) return;
        this.#store.remove(p.user.name, p.stored);
        return this.#note(
          p.stored.from,
          "dlv",
          p.user.name,
          p.stored.k,
          p.stored.at,
          now,
        );
      }
      case "note":
        return;
      case "ping": {
        // The old session answered: the newcomer is refused.
        p.user.probing = false;
        this.#responses.delete(`${addressKey(p.newcomer)}#${p.req.id}`);
        return this.#respond(
          p.newcomer,
          { t: "err", id: p.req.id, code: "name_in_use", name: p.user.name },
          p.reqSize,
          now,
        );
      }
    }
  }

  #expired(p: Pending, now: number): void {
    switch (p.kind) {
      case "tbl":
        this.#tableDone(now);
        if (p.user.syncing?.ver === p.ver) {
          // Lost: send a full snapshot again soon, a few times, so a client
          // never stays on a stale table just because nothing else changed.
          p.user.syncing = null;
          p.user.ackedVer = -1;
          if (++p.user.tableFails <= 3) this.#scheduleFlush(now);
        }
        return;
      case "msg":
        if (p.user.inFlight !== p.delivery) return;
        for (const id of p.delivery.ids) this.#retx.cancel(id);
        return this.#goOffline(p.user, "lost", now);
      case "stored":
        if (p.user.delivering.get(p.stored) !== p.state) return;
        p.user.delivering.delete(p.stored);
        if (p.user.online) this.#goOffline(p.user, "lost", now);
        return;
      case "note": {
        // A notice is not dropped in silence: kept for a sender who has gone
        // Offline meanwhile, sent again (same id: shown once) to one who is
        // still Online.
        const { user, note } = p;
        if (!user.online) {
          if (user.notes.length < MAX_HELD_NOTES) user.notes.push(note);
        } else if (p.tries < NOTE_RETRIES) {
          this.#retx.send(
            note.id,
            user.addr,
            encodeMessage(note),
            { ...p, tries: p.tries + 1 },
            now,
            { deadline: now + BULK_WINDOW_MS, maxBackoff: BULK_MAX_BACKOFF_MS },
          );
        }
        return;
      }
      case "ping": {
        // The old session is gone: the newcomer takes the name over.
        p.user.probing = false;
        this.#responses.delete(`${addressKey(p.newcomer)}#${p.req.id}`);
        return this.#login(p.user, p.newcomer, p.req.id, now);
      }
    }
  }

  // ---- table ------------------------------------------------------------

  #row(u: User): Row {
    return [u.name, u.addr.hostname, u.addr.port, u.online ? 1 : 0];
  }

  #changed(user: User, now: number): void {
    user.row = encodeRow(this.#row(user));
    this.#ver++;
    this.#log.push({ ver: this.#ver, name: user.name });
    if (this.#log.length > 65_536) this.#log.splice(0, 32_768);
    this.#emit("status", "table", "[Client table updated.]", {
      version: this.#ver,
    });
    this.#scheduleFlush(now);
  }

  // The first change after a quiet spell goes out at once, so it reaches
  // clients before anything it causes; changes right after it are gathered.
  #scheduleFlush(now: number): void {
    if (this.#flushAt !== undefined) return;
    // Gather longer in big rooms: fewer, fuller datagrams in a storm of changes.
    const gather = Math.min(500, Math.max(TABLE_FLUSH_MS, this.#online / 10));
    if (now >= this.#lastFlush + gather) return this.#flush(now);
    this.#flushAt = this.#lastFlush + gather;
  }

  #flush(now: number): void {
    this.#flushAt = undefined;
    this.#lastFlush = now;
    const logBase = this.#log.length > 0 ? this.#log[0].ver - 1 : this.#ver;
    let snapshot: string[][] | undefined;
    // Round robin from where the last flush stopped, while the window allows.
    const users = [...this.#users.values()];
    for (let k = 0; k < users.length; k++) {
      const u = users[(this.#flushFrom + k) % users.length];
      if (!u.online || u.syncing !== null || u.ackedVer >= this.#ver) continue;
      if (this.#tablePending >= TABLE_WINDOW) {
        this.#starved = true;
        this.#flushFrom = (this.#flushFrom + k) % users.length;
        break;
      }
      let parts: string[][] | undefined;
      let from: number | undefined;
      if (u.ackedVer >= logBase && u.ackedVer >= 0) {
        const delta = this.#delta(u.ackedVer);
        if (delta !== undefined) {
          parts = chunkEncodedRows(delta.map((d) => d.row));
          from = u.ackedVer;
        }
      }
      parts ??= snapshot ??= chunkEncodedRows(
        [...this.#users.values()].map((d) => d.row),
      );
      const s = { ver: this.#ver, left: parts.length, from, parts, next: 0 };
      u.syncing = s;
      while (s.next < Math.min(parts.length, CLIENT_TABLE_WINDOW)) {
        this.#sendTablePart(u, s, now);
      }
    }
  }

  // Sends the next part of a user's table transfer.
  #sendTablePart(u: User, s: NonNullable<User["syncing"]>, now: number): void {
    const { ver, from, parts } = s;
    const i = s.next++;
    const n = parts.length;
    const id = this.#nextId++;
    this.#tablePending++;
    const whole = from !== undefined && n === 1;
    const bytes = encodeTablePart(
      whole ? { id, ver, from } : { id, ver, from, i, n },
      parts[i],
    );
    this.#retx.send(id, u.addr, bytes, { kind: "tbl", user: u, ver }, now, {
      deadline: now + BULK_WINDOW_MS,
      maxBackoff: BULK_MAX_BACKOFF_MS,
      minTimeout: TABLE_MIN_TIMEOUT_MS,
    });
  }

  // A table datagram was ACKed or given up: if clients wait for room in the
  // window, serve them once half of it is free: at once, not after the
  // gathering delay (up to 500 ms in big rooms), which left the window idle.
  #tableDone(now: number): void {
    this.#tablePending--;
    if (this.#starved && this.#tablePending < TABLE_WINDOW / 2) {
      this.#starved = false;
      this.#flush(now);
    }
  }

  // The users whose rows changed since `ver`, in registration order;
  // undefined when a snapshot is smaller (more than half the table changed).
  #delta(ver: number): User[] | undefined {
    const names = new Set<string>();
    const limit = Math.max(64, this.#users.size >> 1);
    for (let i = this.#log.length - 1; i >= 0 && this.#log[i].ver > ver; i--) {
      names.add(this.#log[i].name);
      if (names.size > limit) return undefined;
    }
    return [...names].map((n) => this.#users.get(n)!).sort((a, b) =>
      a.order - b.order
    );
  }

  // ---- delivery ---------------------------------------------------------

  #goOffline(user: User, why: "dereg" | "lost", now: number): void {
    if (!user.online) return;
    this.#online--;
    user.online = false;
    user.leftBy = why;
    user.syncing = null;
    const failed = user.inFlight === null
      ? user.queue
      : [user.inFlight, ...user.queue];
    if (user.inFlight !== null) {
      for (const id of user.inFlight.ids) this.#retx.cancel(id);
      this.#deliveries--;
    }
    user.inFlight = null;
    user.queue = [];
    user.delivering.clear();
    // Senders hear what became of their messages, then everyone sees the table.
    for (const d of failed) this.#saveFailed(user, d, now);
    const acked = user.ackedVer;
    this.#changed(user, now);
    if (why === "lost" && acked >= 0) {
      // One unreliable copy of the change to the user itself: if it is alive
      // after all (its ACKs were lost), it sees itself Offline and registers again.
      const changed = this.#delta(acked);
      const parts = changed && chunkEncodedRows(changed.map((d) => d.row));
      if (parts?.length === 1) {
        const head = { id: this.#nextId++, ver: this.#ver, from: acked };
        this.#out.push({
          to: user.addr,
          bytes: encodeTablePart(head, parts[0]),
        });
      }
    }
    this.#serveWaiting(now);
  }

  // A message that could not be delivered is saved, and its sender told.
  #saveFailed(user: User, d: Delivery, now: number): void {
    const at = formatStamp(now);
    const ok = this.#store.add(user.name, {
      from: d.from,
      g: d.g,
      text: d.text,
      k: d.k,
      at,
    });
    const kind: NoteKind = !ok ? "refused" : d.g === 1 ? "noack" : "saved";
    this.#note(d.from, kind, user.name, d.k, at, now);
    this.#resolved(d, now);
  }

  // Tells a group sender once every recipient has ACKed or had it saved.
  #resolved(d: Delivery, now: number): void {
    if (d.group !== undefined && --d.group.left === 0) {
      this.#note(d.from, "done", d.from, d.k, undefined, now);
    }
  }

  #enqueue(user: User, d: Delivery, now: number): void {
    user.queue.push(d);
    this.#pump(user, now);
  }

  #pump(user: User, now: number): void {
    if (user.inFlight !== null || !user.online) return;
    if (this.#deliveries >= DELIVERY_WINDOW) {
      if (user.queue.length > 0) this.#waiting.add(user);
      return;
    }
    const d = user.queue.shift();
    if (d === undefined) return;
    user.inFlight = d;
    this.#deliveries++;
    const parts = splitText(d.text);
    d.partsLeft = parts.length;
    d.ids = parts.map((text, pi) =>
      this.#sendReliable(user.addr, {
        t: "msg",
        id: 0,
        from: d.from,
        g: d.g,
        k: d.k,
        pi,
        pn: parts.length,
        text,
      }, {
        kind: "msg",
        user,
        delivery: d,
      }, now)
    );
  }

  // Users waiting for room in the delivery window, in turn.
  #serveWaiting(now: number): void {
    for (const u of this.#waiting) {
      if (this.#deliveries >= DELIVERY_WINDOW) return;
      this.#waiting.delete(u);
      this.#pump(u, now);
    }
  }

  #deliverStored(user: User, stored: readonly Stored[], now: number): void {
    const o0 = user.offSeq + 1;
    user.offSeq += stored.length;
    stored.forEach((s, i) => {
      const parts = splitText(s.text);
      const state = { left: parts.length };
      user.delivering.set(s, state);
      parts.forEach((text, pi) =>
        this.#sendReliable(
          user.addr,
          {
            t: "msg",
            id: 0,
            from: s.from,
            g: s.g,
            k: s.k,
            pi,
            pn: parts.length,
            text,
            at: s.at,
            o: o0 + i,
          },
          { kind: "stored", user, stored: s, state },
          now,
        )
      );
    });
  }

  #note(
    to: string,
    k: NoteKind,
    name: string,
    ref: string,
    at: string | undefined,
    now: number,
  ): void {
    const user = this.#users.get(to);
    if (user === undefined) return;
    const m: Message = { t: "note", id: 0, k, name, ref };
    if (at !== undefined) m.at = at;
    if (!user.online) {
      // Kept (a bounded few) until the sender is back.
      if (user.notes.length < MAX_HELD_NOTES) user.notes.push(m);
      return;
    }
    this.#sendReliable(
      user.addr,
      m,
      { kind: "note", user, note: m, tries: 0 },
      now,
    );
  }

  #sendReliable(
    to: Address,
    m: Message & { id: number },
    ctx: Pending,
    now: number,
  ): number {
    // A table change is never overtaken by what it caused (a delivery, a notice).
    if (ctx.kind !== "tbl" && this.#flushAt !== undefined) this.#flush(now);
    const id = this.#nextId++;
    m.id = id;
    // Notices are not bound by the seed's window: they get longer to arrive,
    // and back off further.
    const bulk = ctx.kind === "note";
    this.#retx.send(id, to, encodeMessage(m), ctx, now, {
      // A duplicate-login probe answers within the newcomer's first window.
      deadline: now +
        (bulk
          ? BULK_WINDOW_MS
          : ctx.kind === "ping"
          ? PING_WINDOW_MS
          : ACK_WINDOW_MS),
      maxBackoff: bulk ? BULK_MAX_BACKOFF_MS : undefined,
    });
    return id;
  }

  // ---- helpers ----------------------------------------------------------

  #emit(
    kind: OutputEvent["kind"],
    event: string,
    text: string,
    data?: OutputEvent["data"],
  ): void {
    this.#events.push(
      data === undefined ? { kind, event, text } : { kind, event, text, data },
    );
  }

  #hex(bytes: number): string {
    return [...this.#random(bytes)].map((b) => b.toString(16).padStart(2, "0"))
      .join("");
  }
}
