/**
 * Table replication. In a small room (at most `TABLE_PRINT_LIMIT` users,
 * where clients print the whole table) every Online client gets the user
 * table, as a delta (the rows changed since the version it ACKed) or a
 * snapshot, in parts that each fit a datagram. In a big room each gets a
 * one-datagram summary per gathered change instead (`room_summaries.ts`;
 * protocol/README.md, "Rooms"), so a registration never costs N rows to N
 * clients. Changes are gathered for a short window; transfers are bounded
 * per client and in total, so a storm of registrations never buries the
 * server's answers. The versions and the change log: `change_log.ts`; the
 * datagrams in flight and their window: `table_transfers.ts`.
 *
 * @module
 */
import type { Outbox } from "../protocol/machine.ts";
import { TABLE_FLUSH_MS, TABLE_PRINT_LIMIT } from "../protocol/constants.ts";
import type { Row } from "../protocol/messages.ts";
import type { Retransmitter } from "../protocol/reliable.ts";
import {
  chunkEncodedRows,
  encodeRow,
  encodeTablePart,
} from "../protocol/table.ts";
import {
  DELTA_MIN_ROWS,
  MAX_GATHER_MS,
  USERS_PER_GATHER_MS,
} from "./constants.ts";
import type { ServerEvent } from "./events.ts";
import type { DatagramIds } from "./ids.ts";
import type { User } from "./user.ts";
import { ChangeLog } from "./change_log.ts";
import { QuietUpdates } from "./quiet_updates.ts";
import { SummarySender } from "./summary_sender.ts";
import { TableTransfers } from "./table_transfers.ts";
import { newReplica, type Replica, rowOf, type Transfer } from "./replica.ts";
import {
  type Changes,
  forgetLookups,
  hasDirty,
  markChanged,
  unlinkLookups,
  watch,
} from "./room_summaries.ts";

/**
 * Largest room in which a `sync` ("send me a full table") is answered with
 * the full table (at most ~40 datagrams); in a bigger one it gets a full
 * summary, so that no storm of `sync`s costs N rows to N clients.
 */
export const SYNC_SNAPSHOT_MAX_USERS = 1_000;

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
  /**
   * The version before the first change (default 0): a leader of a
   * NATS-backed chat starts above every earlier leader's
   * (chat_identity.ts, `tableVersionBase`).
   */
  versionBase?: number;
}

/** The table's versions, its change log and every client's replica. */
export class TableReplication {
  #options: TableReplicationOptions;
  #replicas = new Map<string, Replica>();
  #log: ChangeLog;
  // Versions from which snapshots are quiet (quiet_updates.ts).
  #quiet: QuietUpdates;
  // Big rooms' summaries (summary_sender.ts).
  #summaries: SummarySender;
  #flushAt: number | undefined;
  #lastFlush = -Infinity;
  #transfers: TableTransfers;
  /** Whether the last flush found a big room (clients held summaries). */
  #wasBig = false;
  /** Where the next flush starts its round robin. */
  #flushFrom = 0;

  /** @param options The retransmitter, outbox, ids and hooks. */
  constructor(options: TableReplicationOptions) {
    this.#options = options;
    this.#log = new ChangeLog({ base: options.versionBase });
    this.#quiet = new QuietUpdates(this.#log);
    this.#transfers = new TableTransfers({
      retransmitter: options.retransmitter,
      ids: options.ids,
      version: () => this.#log.version,
      scheduleFlush: (now) => this.scheduleFlush(now),
      flush: (now) => this.#flush(now),
    });
    this.#summaries = new SummarySender({
      log: this.#log,
      quiet: this.#quiet,
      ids: options.ids,
      transfers: this.#transfers,
      users: () => this.#replicas.size,
      onlineCount: options.onlineCount,
      delta: (version) => this.#delta(version),
    });
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
    this.#replicas.set(user.name, newReplica(user));
  }

  /**
   * A user's row changed: a new version, sent soon to every client.
   *
   * @param user The user whose row changed.
   * @param now The current time (ms).
   * @param options `quiet`: no printed field changed (a re-login from the
   * same address brings only a new key): no console line, and clients that
   * get nothing else apply it without printing (seed test case 6).
   */
  changed(user: User, now: number, options: { quiet?: boolean } = {}): void {
    this.#change(user, options.quiet === true);
    this.scheduleFlush(now);
  }

  /**
   * Users a new leader brought back (sessions.ts, `restore`): added and
   * sent in one flush, so that no client gets a table with only some of
   * them. A row whose printed fields are as the last leader had them is a
   * quiet change, and a kept session's snapshot is quiet when all are: its
   * client, which holds that table, prints nothing.
   *
   * @param users Each user, whether its row is as before (`quiet`), and
   * whether its session was kept (its client gets a snapshot).
   * @param options The current time (ms), and the names of rows the last
   * leader had that were not brought back (a transient session's, a
   * lookalike's).
   */
  restored(
    users: readonly { user: User; quiet: boolean; kept: boolean }[],
    options: { now: number; gone: readonly string[] },
  ): void {
    // Only a fresh table holds exactly what the last leader left.
    const fresh = this.#replicas.size === 0;
    const base = this.#log.version;
    for (const { user } of users) this.add(user);
    for (const { user, quiet, kept } of users) {
      this.#change(user, quiet);
      if (kept && fresh) this.#quiet.holds(this.#replica(user), base);
    }
    // Rows the last leader had and this one dropped: only a printed
    // snapshot says they are gone.
    for (const name of options.gone) this.#log.removed(name);
    if (users.length > 0 || options.gone.length > 0) {
      this.scheduleFlush(options.now);
    }
  }

  // A row changed: encoded once, and a new version (printed unless quiet).
  #change(user: User, quiet: boolean): void {
    const replica = this.#replica(user);
    const row = encodeRow(rowOf(user));
    replica.json = row.json;
    replica.size = row.size;
    if (this.#big) {
      // Its own row, and each looked-up copy, come back in summaries.
      markChanged(replica);
    }
    const version = this.#log.changed(user.name, { quiet });
    if (!quiet) this.#options.emit({ type: "table_updated", version });
  }

  /** A new login: the client gets a full snapshot, any transfer forgotten. */
  restart(user: User, options: { quiet?: boolean } = {}): void {
    const replica = this.#replica(user);
    replica.ackedVersion = -1;
    replica.transfer = null;
    // A quiet re-login: its snapshot is printed only if something else
    // changed by the time it goes.
    if (options.quiet === true) this.#quiet.holds(replica, this.#log.version);
    else this.#quiet.forget(replica);
    // A new session holds no looked-up rows.
    forgetLookups(replica);
  }

  /**
   * A client in a big room looks a user up (`who`): from now on that row
   * comes back in the client's summaries whenever it changes, until the
   * client has looked up `WATCH_MAX` (room_summaries.ts) others since.
   *
   * @param user The client asking.
   * @param name The user looked up.
   * @returns Its row, or undefined for a name nobody registered.
   */
  lookup(user: User, name: string): Row | undefined {
    const target = this.#replicas.get(name);
    if (target === undefined) return undefined;
    watch(this.#replica(user), target);
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
    this.#quiet.forget(replica);
    unlinkLookups(replica);
    const version = this.#log.removed(user.name);
    this.#options.emit({ type: "table_updated", version });
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
      const bytes = this.#summaries.encode(this.#summaries.changes(since), [r]);
      this.#options.out.push({ to: user.address, bytes });
      return;
    }
    const changed = this.#delta(since);
    const parts = changed && chunkEncodedRows(changed);
    if (parts?.length !== 1) return;
    const head = {
      id: this.#options.ids.next(),
      ver: this.#log.version,
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
    const logBase = this.#log.base;
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
        (r.ackedVersion >= this.#log.version && !(big && hasDirty(r)) &&
          !r.snapshot)
      ) continue;
      if (this.#transfers.waitForRoom()) {
        this.#flushFrom = (this.#flushFrom + k) % replicas.length;
        break;
      }
      if (big && !r.snapshot) {
        const base = r.ackedVersion;
        let c = changes.get(base);
        if (c === undefined) {
          changes.set(base, c = this.#summaries.changes(base));
        }
        this.#summaries.send(r, c, now);
        continue;
      }
      let parts: string[][] | undefined;
      let from: number | undefined;
      if (r.ackedVersion >= logBase && r.ackedVersion >= 0) {
        const delta = this.#delta(r.ackedVersion);
        if (delta !== undefined) {
          parts = chunkEncodedRows(delta);
          from = r.ackedVersion;
        }
      }
      parts ??= snapshot ??= chunkEncodedRows(replicas);
      r.snapshot = false;
      const transfer: Transfer = {
        version: this.#log.version,
        left: parts.length,
        from,
        parts,
        next: 0,
      };
      if (this.#quiet.isQuiet(r, from)) transfer.quiet = true;
      this.#transfers.start(r, transfer, now);
    }
  }

  // Whether the room is big: clients hold summaries, not the table.
  get #big(): boolean {
    return this.#replicas.size > TABLE_PRINT_LIMIT;
  }

  // The replicas whose rows changed since `version`, in registration order;
  // undefined when a snapshot is smaller (more than half the table changed).
  #delta(version: number): Replica[] | undefined {
    const limit = Math.max(DELTA_MIN_ROWS, this.#replicas.size >> 1);
    const names = this.#log.changedSince(version, limit);
    return names && [...names].map((n) => this.#replicas.get(n)!).sort((
      a,
      b,
    ) => a.user.order - b.user.order);
  }
}
