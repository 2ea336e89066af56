/**
 * Table replication. In a small room (at most `TABLE_PRINT_LIMIT` users,
 * where clients print the whole table) every Online client gets the user
 * table, as a delta (the rows changed since the version it ACKed) or a
 * snapshot, in parts that each fit a datagram. In a big room clients hold
 * no table: each gets a one-datagram summary (`sum`: the counts, the first
 * changed rows) per gathered change, learns the rows it needs with `who`,
 * and the rows it looked up come back in its summaries whenever they change
 * (protocol/README.md, "Rooms"). So a registration costs O(1) datagrams to
 * the newcomer plus one coalesced summary to each client, never N rows to N
 * clients. Changes are gathered for a short window; transfers are bounded
 * per client and in total, so a storm of registrations never buries the
 * server's answers.
 *
 * @module
 */
import type { Outbox } from "../protocol/machine.ts";
import { TABLE_FLUSH_MS, TABLE_PRINT_LIMIT } from "../protocol/constants.ts";
import type { Row } from "../protocol/messages.ts";
import type { Retransmitter } from "../protocol/reliable.ts";
import {
  chunkEncodedRows,
  type EncodedRow,
  encodeRow,
  encodeSummary,
  encodeTablePart,
  SUMMARY_NAMES,
  SUMMARY_ROWS_BUDGET,
} from "../protocol/table.ts";
import {
  BULK_MAX_BACKOFF_MS,
  BULK_WINDOW_MS,
  CHANGE_LOG_MAX,
  CHANGE_LOG_TRIM,
  CLIENT_TABLE_WINDOW,
  DELTA_MIN_ROWS,
  MAX_GATHER_MS,
  TABLE_MIN_TIMEOUT_MS,
  TABLE_SNAPSHOT_RETRIES,
  TABLE_WINDOW,
  USERS_PER_GATHER_MS,
} from "./constants.ts";
import type { ServerEvent } from "./events.ts";
import type { DatagramIds } from "./ids.ts";
import type { User } from "./user.ts";

/**
 * Rows one client may look up and have kept fresh; looking up one more
 * forgets the oldest (the client keeps as many, and asks again for a row it
 * no longer holds).
 */
export const WATCH_MAX = 256;

/**
 * Largest room in which a `sync` ("send me a full table") is answered with
 * the full table (at most ~40 datagrams); in a bigger one it gets a full
 * summary, so that no storm of `sync`s costs N rows to N clients.
 */
export const SYNC_SNAPSHOT_MAX_USERS = 1_000;

/** A transfer under way: the parts not yet ACKed, the next to send. */
interface Transfer {
  version: number;
  left: number;
  /** Delta base version; undefined for a snapshot. */
  from: number | undefined;
  parts: string[][];
  next: number;
  /** A summary's looked-up rows, put back as changed if it is lost. */
  watched?: Replica[];
}

/** What changed since one version, as a summary names it. */
interface Changes {
  /** The first changed, in registration order. */
  listed: Replica[];
  /** How many more changed. */
  more: number;
  /** More than half the table changed (or the log is too short). */
  full: boolean;
}

/** What one client has of the table. */
interface Replica {
  user: User;
  /** The last version it ACKed whole; -1 when it needs a snapshot. */
  ackedVersion: number;
  transfer: Transfer | null;
  /** Transfers in a row that were never ACKed. */
  failures: number;
  /** Its own row, encoded once per change. */
  row: EncodedRow;
  /** Big rooms: the users this client looked up, oldest first. */
  watching?: Set<Replica>;
  /** Big rooms: the clients that looked this user up. */
  watchers?: Set<Replica>;
  /** Big rooms: looked-up rows changed and not yet sent. */
  dirty?: Set<Replica>;
  /** Big rooms: its own row changed and was not yet sent to it. */
  selfDirty?: boolean;
  /** It asked for the full table (`sync`) in a room not too big for one. */
  snapshot?: boolean;
}

/** What table replication needs from the rest of the server. */
export interface TableReplicationOptions {
  /** Tracks the table parts awaiting an ACK. */
  retransmitter: Retransmitter;
  /** Where the unreliable copy to a lost user goes. */
  out: Outbox;
  /** Where datagram ids come from. */
  ids: DatagramIds;
  /** Users Online now: the gathering window grows with it. */
  onlineCount: () => number;
  /** Reports a table change. */
  emit: (event: ServerEvent) => void;
}

/** The table's versions, its change log and every client's replica. */
export class TableReplication {
  #options: TableReplicationOptions;
  #replicas = new Map<string, Replica>();
  #version = 0;
  // `gone`: the change removed the row (a transient session left).
  #log: { version: number; name: string; gone?: true }[] = [];
  #flushAt: number | undefined;
  #lastFlush = -Infinity;
  /** Table datagrams awaiting an ACK, over all clients. */
  #inFlight = 0;
  /** Whether clients wait for room in the window. */
  #starved = false;
  /** Whether the last flush found a big room (clients held summaries). */
  #wasBig = false;
  /** Where the next flush starts its round robin. */
  #flushFrom = 0;

  /** @param options The retransmitter, outbox, ids and hooks. */
  constructor(options: TableReplicationOptions) {
    this.#options = options;
  }

  /** The rows, in registration order. */
  rows(): Row[] {
    return [...this.#replicas.values()].map((r) => rowOf(r.user));
  }

  /** When pending changes go out (ms), if any are gathered. */
  get flushAt(): number | undefined {
    return this.#flushAt;
  }

  /** Starts keeping a new user's replica. */
  add(user: User): void {
    this.#replicas.set(user.name, {
      user,
      ackedVersion: -1,
      transfer: null,
      failures: 0,
      row: { json: "", size: 0 },
      // Every field set here, so each replica keeps one shape (and no
      // out-of-object property store).
      watching: undefined,
      watchers: undefined,
      dirty: undefined,
      selfDirty: false,
      snapshot: false,
    });
  }

  /** A user's row changed: a new version, sent soon to every client. */
  changed(user: User, now: number): void {
    const replica = this.#replica(user);
    replica.row = encodeRow(rowOf(user));
    if (this.#big) {
      // Its own row, and each looked-up copy, come back in summaries.
      replica.selfDirty = true;
      for (const w of replica.watchers ?? []) {
        (w.dirty ??= new Set()).add(replica);
      }
    }
    this.#version++;
    this.#log.push({ version: this.#version, name: user.name });
    if (this.#log.length > CHANGE_LOG_MAX) this.#log.splice(0, CHANGE_LOG_TRIM);
    this.#options.emit({ type: "table_updated", version: this.#version });
    this.scheduleFlush(now);
  }

  /** A new login: the client gets a full snapshot, any transfer forgotten. */
  restart(user: User): void {
    const replica = this.#replica(user);
    replica.ackedVersion = -1;
    replica.transfer = null;
    // A new session holds no looked-up rows.
    for (const t of replica.watching ?? []) t.watchers?.delete(replica);
    replica.watching = undefined;
    replica.dirty = undefined;
    replica.selfDirty = false;
  }

  /**
   * A client in a big room looks a user up (`who`): from now on that row
   * comes back in the client's summaries whenever it changes, until the
   * client has looked up {@linkcode WATCH_MAX} others since.
   *
   * @param user The client asking.
   * @param name The user looked up.
   * @returns Its row, or undefined for a name nobody registered.
   */
  lookup(user: User, name: string): Row | undefined {
    const target = this.#replicas.get(name);
    if (target === undefined) return undefined;
    const r = this.#replica(user);
    if (target !== r) {
      const watching = r.watching ??= new Set();
      watching.delete(target);
      watching.add(target);
      (target.watchers ??= new Set()).add(r);
      if (watching.size > WATCH_MAX) {
        const oldest = watching.values().next().value!;
        watching.delete(oldest);
        oldest.watchers?.delete(r);
        r.dirty?.delete(oldest);
      }
    }
    return rowOf(target.user);
  }

  /**
   * A transient session left: its row is removed, a new version. Deltas
   * carry no removals, so every client gets a snapshot without it (in a
   * big room, a summary marked full); snapshots of a small room are a
   * datagram or two.
   */
  remove(user: User, now: number): void {
    const replica = this.#replica(user);
    if (replica === undefined) return;
    this.#replicas.delete(user.name);
    for (const t of replica.watching ?? []) t.watchers?.delete(replica);
    for (const w of replica.watchers ?? []) {
      w.watching?.delete(replica);
      w.dirty?.delete(replica);
    }
    this.#version++;
    this.#log.push({ version: this.#version, name: user.name, gone: true });
    if (this.#log.length > CHANGE_LOG_MAX) this.#log.splice(0, CHANGE_LOG_TRIM);
    this.#options.emit({ type: "table_updated", version: this.#version });
    this.scheduleFlush(now);
  }

  /** The client asked for a snapshot (`sync`): it gets one soon. */
  requestSnapshot(user: User, now: number): void {
    const r = this.#replica(user);
    r.ackedVersion = -1;
    r.snapshot = this.#replicas.size <= SYNC_SNAPSHOT_MAX_USERS;
    this.scheduleFlush(now);
  }

  /**
   * The user went Offline: its transfer stops.
   *
   * @returns The last version it ACKed (-1 for none).
   */
  stop(user: User): number {
    const replica = this.#replica(user);
    replica.transfer = null;
    return replica.ackedVersion;
  }

  /**
   * Sends a user marked Offline one unreliable copy of the change since
   * `since`, when it fits one datagram: if it is alive after all (its ACKs
   * were lost), it sees itself Offline and registers again.
   */
  sendOfflineCopy(user: User, since: number): void {
    if (this.#big) {
      const r = this.#replica(user);
      const bytes = this.#encodeSummary(this.#changes(since), [r]);
      this.#options.out.push({ to: user.address, bytes });
      return;
    }
    const changed = this.#delta(since);
    const parts = changed && chunkEncodedRows(changed.map((r) => r.row));
    if (parts?.length !== 1) return;
    const head = {
      id: this.#options.ids.next(),
      ver: this.#version,
      from: since,
    };
    this.#options.out.push({
      to: user.address,
      bytes: encodeTablePart(head, parts[0]),
    });
  }

  /**
   * The first change after a quiet spell goes out at once, so it reaches
   * clients before anything it causes; changes right after it are gathered.
   */
  scheduleFlush(now: number): void {
    if (this.#flushAt !== undefined) return;
    // Gather longer in big rooms: fewer, fuller datagrams in a storm of changes.
    const gather = Math.min(
      MAX_GATHER_MS,
      Math.max(
        TABLE_FLUSH_MS,
        this.#options.onlineCount() / USERS_PER_GATHER_MS,
      ),
    );
    if (now >= this.#lastFlush + gather) return this.#flush(now);
    this.#flushAt = this.#lastFlush + gather;
  }

  /** Sends gathered changes now, if any (before what they caused). */
  flushPending(now: number): void {
    if (this.#flushAt !== undefined) this.#flush(now);
  }

  /** Sends gathered changes whose window has passed. */
  handleTimer(now: number): void {
    if (this.#flushAt !== undefined && this.#flushAt <= now) this.#flush(now);
  }

  #replica(user: User): Replica {
    return this.#replicas.get(user.name)!;
  }

  #flush(now: number): void {
    this.#flushAt = undefined;
    this.#lastFlush = now;
    const logBase = this.#log.length > 0
      ? this.#log[0].version - 1
      : this.#version;
    let snapshot: string[][] | undefined;
    const big = this.#big;
    if (!big && this.#wasBig) {
      // Back to a small room (rows removed): clients held summaries, not
      // rows, so each gets a full snapshot.
      for (const r of this.#replicas.values()) r.ackedVersion = -1;
    }
    this.#wasBig = big;
    // What changed since each base version, worked out once per flush.
    const changes = new Map<number, Changes>();
    // Round robin from where the last flush stopped, while the window allows.
    const replicas = [...this.#replicas.values()];
    for (let k = 0; k < replicas.length; k++) {
      const r = replicas[(this.#flushFrom + k) % replicas.length];
      if (
        !r.user.online || r.transfer !== null ||
        (r.ackedVersion >= this.#version && !(big && hasDirty(r)) &&
          !r.snapshot)
      ) continue;
      if (this.#inFlight >= TABLE_WINDOW) {
        this.#starved = true;
        this.#flushFrom = (this.#flushFrom + k) % replicas.length;
        break;
      }
      if (big && !r.snapshot) {
        const base = r.ackedVersion;
        let c = changes.get(base);
        if (c === undefined) changes.set(base, c = this.#changes(base));
        this.#sendSummary(r, c, now);
        continue;
      }
      let parts: string[][] | undefined;
      let from: number | undefined;
      if (r.ackedVersion >= logBase && r.ackedVersion >= 0) {
        const delta = this.#delta(r.ackedVersion);
        if (delta !== undefined) {
          parts = chunkEncodedRows(delta.map((d) => d.row));
          from = r.ackedVersion;
        }
      }
      parts ??= snapshot ??= chunkEncodedRows(replicas.map((d) => d.row));
      r.snapshot = false;
      const transfer: Transfer = {
        version: this.#version,
        left: parts.length,
        from,
        parts,
        next: 0,
      };
      r.transfer = transfer;
      while (transfer.next < Math.min(parts.length, CLIENT_TABLE_WINDOW)) {
        this.#sendPart(r, transfer, now);
      }
    }
  }

  // Sends the next part of a client's transfer.
  #sendPart(r: Replica, transfer: Transfer, now: number): void {
    const { version, from, parts } = transfer;
    const i = transfer.next++;
    const n = parts.length;
    const id = this.#options.ids.next();
    this.#inFlight++;
    const whole = from !== undefined && n === 1;
    const bytes = encodeTablePart(
      whole ? { id, ver: version, from } : { id, ver: version, from, i, n },
      parts[i],
    );
    this.#options.retransmitter.send({ id, to: r.user.address, bytes }, now, {
      deadline: now + BULK_WINDOW_MS,
      maxBackoff: BULK_MAX_BACKOFF_MS,
      minTimeout: TABLE_MIN_TIMEOUT_MS,
      onAck: (ack) => this.#acked(r, version, ack.now),
      onExpire: (at) => this.#expired(r, version, at),
    });
  }

  // Whether the room is big: clients hold summaries, not the table.
  get #big(): boolean {
    return this.#replicas.size > TABLE_PRINT_LIMIT;
  }

  // What changed since `version`, as a summary lists it: the same rows a
  // delta would print, or "full table" where a snapshot would be sent.
  #changes(version: number): Changes {
    const logBase = this.#log.length > 0
      ? this.#log[0].version - 1
      : this.#version;
    const delta = version >= 0 && version >= logBase
      ? this.#delta(version)
      : undefined;
    if (delta === undefined) return { listed: [], more: 0, full: true };
    return {
      listed: delta.slice(0, SUMMARY_NAMES),
      more: Math.max(0, delta.length - SUMMARY_NAMES),
      full: false,
    };
  }

  // One summary datagram: the counts, the listed rows, then as many of the
  // client's changed looked-up rows as fit (the rest go in the next one).
  #encodeSummary(
    c: Changes,
    watched: Replica[],
    id = this.#options.ids.next(),
  ): Uint8Array {
    return encodeSummary(
      {
        id,
        ver: this.#version,
        u: this.#replicas.size,
        on: this.#options.onlineCount(),
        full: c.full,
        more: c.more,
      },
      c.listed.map((x) => x.row.json),
      watched.map((x) => x.row.json),
    );
  }

  #sendSummary(r: Replica, c: Changes, now: number): void {
    let size = c.listed.reduce((n, x) => n + x.row.size + 1, 0);
    const watched: Replica[] = [];
    if (r.selfDirty) {
      r.selfDirty = false;
      size += r.row.size + 1;
      watched.push(r);
    }
    for (const x of r.dirty ?? []) {
      if (size + x.row.size + 1 > SUMMARY_ROWS_BUDGET) break;
      size += x.row.size + 1;
      watched.push(x);
      r.dirty!.delete(x);
    }
    if (r.dirty?.size === 0) r.dirty = undefined;
    const version = this.#version;
    const transfer: Transfer = {
      version,
      left: 1,
      from: undefined,
      parts: [],
      next: 1,
      watched,
    };
    r.transfer = transfer;
    const id = this.#options.ids.next();
    this.#inFlight++;
    this.#options.retransmitter.send(
      { id, to: r.user.address, bytes: this.#encodeSummary(c, watched, id) },
      now,
      {
        deadline: now + BULK_WINDOW_MS,
        maxBackoff: BULK_MAX_BACKOFF_MS,
        minTimeout: TABLE_MIN_TIMEOUT_MS,
        onAck: (ack) => this.#acked(r, version, ack.now),
        onExpire: (at) => this.#expired(r, version, at),
      },
    );
  }

  #acked(r: Replica, version: number, now: number): void {
    this.#partDone(now);
    const transfer = r.transfer;
    if (transfer === null || transfer.version !== version) return;
    if (transfer.next < transfer.parts.length) this.#sendPart(r, transfer, now);
    if (--transfer.left > 0) return;
    r.transfer = null;
    r.ackedVersion = version;
    r.failures = 0;
    if (version < this.#version || hasDirty(r)) this.scheduleFlush(now);
  }

  #expired(r: Replica, version: number, now: number): void {
    this.#partDone(now);
    if (r.transfer?.version !== version) return;
    const watched = r.transfer.watched;
    r.transfer = null;
    if (watched !== undefined) {
      // A summary lost: its looked-up rows go in the next one, which names
      // what changed since the last one this client ACKed.
      for (const x of watched) {
        if (x === r) r.selfDirty = true;
        else if (r.watching?.has(x)) (r.dirty ??= new Set()).add(x);
      }
      if (++r.failures <= TABLE_SNAPSHOT_RETRIES) this.scheduleFlush(now);
      return;
    }
    // Lost: send a full snapshot again soon, a few times, so a client never
    // stays on a stale table just because nothing else changed.
    r.ackedVersion = -1;
    if (++r.failures <= TABLE_SNAPSHOT_RETRIES) this.scheduleFlush(now);
  }

  // A table datagram was ACKed or given up: if clients wait for room in the
  // window, serve them once half of it is free: at once, not after the
  // gathering delay (up to 500 ms in big rooms), which left the window idle.
  #partDone(now: number): void {
    this.#inFlight--;
    if (this.#starved && this.#inFlight < TABLE_WINDOW / 2) {
      this.#starved = false;
      this.#flush(now);
    }
  }

  // The replicas whose rows changed since `version`, in registration order;
  // undefined when a snapshot is smaller (more than half the table changed).
  #delta(version: number): Replica[] | undefined {
    const names = new Set<string>();
    const limit = Math.max(DELTA_MIN_ROWS, this.#replicas.size >> 1);
    for (
      let i = this.#log.length - 1;
      i >= 0 && this.#log[i].version > version;
      i--
    ) {
      // A removal: only a snapshot says it.
      if (this.#log[i].gone) return undefined;
      names.add(this.#log[i].name);
      if (names.size > limit) return undefined;
    }
    return [...names].map((n) => this.#replicas.get(n)!).sort((a, b) =>
      a.user.order - b.user.order
    );
  }
}

// Whether a big room's client has looked-up rows (or its own) to be sent.
function hasDirty(r: Replica): boolean {
  return r.selfDirty === true || (r.dirty?.size ?? 0) > 0;
}

function rowOf(user: User): Row {
  const row: Row = [
    user.name,
    user.address.hostname,
    user.address.port,
    user.online ? 1 : 0,
  ];
  // The X25519 key, then the claimed flag (issue 14): absent for an old
  // client that published no key.
  if (user.agreementKey !== undefined) {
    row.push(user.agreementKey);
    if (user.claimed === true) row.push(1);
  }
  return row;
}
