/**
 * The client's copy of the user table: snapshots and deltas gathered from
 * their parts and applied in version order, a resync when a version was
 * missed, and the decision of when to print it (not before the welcome; the
 * first table after a welcome releases what waited for it).
 *
 * In a big room (the server sends `sum`, not `tbl`) it holds the counts and
 * only the rows it looked up (`who`), at most {@linkcode LOOKUP_CACHE} of
 * them, which the server keeps fresh (protocol/README.md, "Rooms").
 *
 * @module
 */
import { encodeMessage } from "../protocol/codec.ts";
import type {
  AckMessage,
  ErrMessage,
  Row,
  SummaryMessage,
  TableMessage,
} from "../protocol/messages.ts";
import type { ClientContext } from "./context.ts";
import { PeerKeys } from "./peer_keys.ts";

/**
 * Rows a client in a big room holds at once (those it looked up, oldest
 * dropped first): the server keeps as many fresh for it (`WATCH_MAX`).
 */
export const LOOKUP_CACHE = 256;

/** Lookups under way at once; more wait (peer senders retransmit meanwhile). */
export const MAX_LOOKUPS = 16;

/** What {@linkcode TableReplica} asks of the rest of the client. */
export interface TableHooks {
  /** A version was missed: a snapshot is needed. */
  missed(now: number): void;
  /** A row changed its address or status. */
  rowChanged(name: string): void;
  /** A snapshot or delta was applied, before it is printed. */
  applied(now: number): void;
  /** The first table after a welcome was printed. */
  shown(now: number): void;
  /** A lookup ended (row learned, unknown or unanswered). */
  looked(name: string, now: number): void;
  /** The session token, for lookups. */
  token(): string;
}

/** A big room's table as the client knows it: counts, not rows. */
interface Summary {
  users: number;
  online: number;
}

interface Assembly {
  version: number;
  from: number | undefined;
  parts: (Row[] | undefined)[];
  got: number;
  /** A quiet update (`q: 1`): applied, not printed. */
  quiet: boolean;
}

/** The table as this client knows it. */
export class TableReplica {
  #ctx: ClientContext;
  #hooks: TableHooks;
  #rows: Row[] = [];
  #index = new Map<string, number>();
  #version = -1;
  #assembly: Assembly | null = null;
  #welcomed = false;
  #shown = false;
  // The rows changed by an update that arrived before the welcome.
  #pending: readonly Row[] | null = null;
  // A quiet update came before the welcome: it releases, not prints.
  #pendingQuiet = false;
  // Big rooms: the counts (rows hold only what was looked up), and the
  // summary line waiting for the welcome.
  #summary: Summary | null = null;
  #pendingSummary: SummaryMessage | null = null;
  // Lookups under way: datagram id → name.
  #lookups = new Map<number, string>();
  // The X25519 key each peer's row last gave: a warning when a claimed
  // peer's key changes.
  #peerKeys: PeerKeys;

  /**
   * Makes an empty table, version -1.
   *
   * @param ctx The client's shared state.
   * @param hooks What it asks of the rest of the client.
   */
  constructor(ctx: ClientContext, hooks: TableHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    this.#peerKeys = new PeerKeys(ctx.name);
  }

  /** The rows, in registration order. */
  get rows(): readonly Row[] {
    return this.#rows;
  }

  /** Whether the last `reg` was welcomed (none is under way since). */
  get welcomed(): boolean {
    return this.#welcomed;
  }

  /** Whether the table that followed the last welcome was printed. */
  get shown(): boolean {
    return this.#shown;
  }

  /** Whether no update waits to be printed. */
  get settled(): boolean {
    return this.#pending === null && this.#pendingSummary === null;
  }

  /** Whether this client holds a big room's summary, not its table. */
  get summarized(): boolean {
    return this.#summary !== null;
  }

  /** Users in the table as this client knows it (counted, in a big room). */
  get users(): number {
    return this.#summary?.users ?? this.#rows.length;
  }

  /**
   * Whether a `send` to `name` must look it up first: a big room's row this
   * client does not hold.
   */
  needsLookup(name: string): boolean {
    return this.#summary !== null && !this.#index.has(name);
  }

  /** Whether a lookup of `name` is under way. */
  lookingUp(name: string): boolean {
    for (const n of this.#lookups.values()) if (n === name) return true;
    return false;
  }

  /**
   * Asks the server for `name`'s row (`who`), unless a lookup of it is under
   * way or too many are; `looked` runs when it ends.
   *
   * @returns Whether a lookup of `name` is under way.
   */
  lookup(name: string, now: number): boolean {
    if (this.lookingUp(name)) return true;
    if (this.#lookups.size >= MAX_LOOKUPS) return false;
    const ctx = this.#ctx;
    const id = ctx.nextId();
    this.#lookups.set(id, name);
    ctx.retransmitter.send(
      {
        id,
        to: ctx.server,
        bytes: encodeMessage({ t: "who", id, tok: this.#hooks.token(), name }),
      },
      now,
      {
        onExpire: (at) => {
          if (this.#lookups.delete(id)) this.#hooks.looked(name, at);
        },
      },
    );
    return true;
  }

  /**
   * Takes the server's answer to a lookup: the row (kept), or
   * `unknown_user`.
   *
   * @returns Whether it answered a lookup (else it is someone else's).
   */
  answer(m: AckMessage | ErrMessage, now: number): boolean {
    const name = this.#lookups.get(m.id);
    if (name === undefined) return false;
    this.#lookups.delete(m.id);
    this.#ctx.retransmitter.cancel(m.id);
    const row = m.t === "ack" ? m.rows?.[0] : undefined;
    if (row !== undefined && row[0] === name) this.#keep(row);
    this.#hooks.looked(name, now);
    return true;
  }

  /** The row of a user, if the table has one. */
  row(name: string): Row | undefined {
    const i = this.#index.get(name);
    return i === undefined ? undefined : this.#rows[i];
  }

  /**
   * A `reg` goes out: what arrives is not printed before its welcome; a big
   * room's looked-up rows are forgotten (the new session has none kept
   * fresh).
   */
  expectWelcome(): void {
    this.#welcomed = false;
    if (this.#summary !== null) {
      this.#rows = [];
      this.#index.clear();
    }
  }

  /** A `reg` or `sync` goes out: the snapshot that follows is taken whatever its version. */
  expectSnapshot(): void {
    this.#version = -1;
    this.#assembly = null;
  }

  /** `dereg` done: a half-gathered update is dropped. */
  discardPartial(): void {
    this.#assembly = null;
  }

  /** The welcome came: prints an update that waited for it. */
  welcome(now: number): void {
    this.#shown = false;
    this.#welcomed = true;
    if (this.#version >= 0 && this.#pending !== null) {
      this.#print(this.#pending, now);
    }
    if (this.#version >= 0 && this.#pendingSummary !== null) {
      this.#printSummary(this.#pendingSummary, now);
    }
    if (this.#version >= 0 && this.#pendingQuiet) this.#release(now);
  }

  /**
   * Handles one summary datagram (already ACKed and checked as new): its
   * looked-up rows are kept; a newer version is printed as the one-line
   * summary.
   */
  receiveSummary(m: SummaryMessage, now: number): void {
    if (this.#summary === null) {
      // The room became big: rows the server no longer keeps fresh go.
      this.#rows = [];
      this.#index.clear();
      this.#assembly = null;
    }
    this.#summary = { users: m.u, online: m.on };
    for (const row of m.w ?? []) this.#keep(row);
    if (m.ver <= this.#version) {
      if ((m.w?.length ?? 0) > 0) this.#hooks.applied(now);
      return;
    }
    this.#version = m.ver;
    if (m.q === 1) return this.#quiet(now);
    this.#hooks.applied(now);
    if (!this.#welcomed) {
      this.#pendingSummary = m;
      return;
    }
    this.#printSummary(m, now);
  }

  #printSummary(m: SummaryMessage, now: number): void {
    this.#pendingSummary = null;
    const ctx = this.#ctx;
    ctx.emit({ type: "table_updated", version: this.#version });
    ctx.emit({
      type: "table_summary",
      users: m.u,
      online: m.on,
      changed: m.rows,
      more: m.more ?? 0,
      full: m.full === 1,
    });
    if (!this.#shown) {
      this.#shown = true;
      this.#hooks.shown(now);
    }
  }

  // A big room's row: kept (newest last), the oldest dropped past the cap.
  #keep(row: Row): void {
    if (this.#index.has(row[0])) {
      this.#upsert(row);
      return;
    }
    if (this.#rows.length >= LOOKUP_CACHE) {
      const own = this.#rows.findIndex((r) => r[0] !== this.#ctx.name);
      this.#rows.splice(own, 1);
      this.#index.clear();
      this.#rows.forEach((r, i) => this.#index.set(r[0], i));
    }
    this.#upsert(row);
  }

  /** Handles one table datagram (already ACKed and checked as new). */
  receive(m: TableMessage, now: number): void {
    if (this.#summary !== null) {
      // Back to a full table (a server that restarted with a small room).
      this.#summary = null;
      this.#pendingSummary = null;
    }
    if (m.ver <= this.#version) return;
    if (m.from !== undefined && m.from !== this.#version) {
      return this.#hooks.missed(now);
    }
    // Gather the parts of one snapshot or delta; a newer one replaces an older.
    const n = m.n ?? 1;
    const s = this.#assembly;
    if (
      s === null || s.version !== m.ver || s.from !== m.from ||
      s.parts.length !== n
    ) {
      if (s !== null && s.version > m.ver) return;
      this.#assembly = {
        version: m.ver,
        from: m.from,
        parts: new Array(n),
        got: 0,
        quiet: m.q === 1,
      };
    }
    const a = this.#assembly!;
    const i = m.i ?? 0;
    if (a.parts[i] !== undefined) return;
    a.parts[i] = m.rows;
    if (++a.got < n) return;
    this.#assembly = null;
    const rows = a.parts.flatMap((p) => p!);
    if (a.from === undefined) {
      this.#rows = [];
      this.#index.clear();
    }
    for (const row of rows) this.#upsert(row);
    this.#version = a.version;
    if (a.quiet) return this.#quiet(now);
    this.#changed(a.from === undefined ? this.#rows : rows, now);
  }

  // A quiet update (only keys changed: a re-login from the same address,
  // seed test case 6): applied, not printed. It still counts as the first
  // table after a welcome, releasing what waited for it.
  #quiet(now: number): void {
    this.#hooks.applied(now);
    if (!this.#welcomed) {
      this.#pendingQuiet = true;
      return;
    }
    this.#release(now);
  }

  #release(now: number): void {
    this.#pendingQuiet = false;
    if (!this.#shown) {
      this.#shown = true;
      this.#hooks.shown(now);
    }
  }

  #upsert(row: Row): void {
    if (this.#peerKeys.changed(row)) {
      this.#ctx.emit({ type: "key_changed", name: row[0] });
    }
    const i = this.#index.get(row[0]);
    if (i === undefined) {
      this.#index.set(row[0], this.#rows.length);
      this.#rows.push(row);
      return;
    }
    const old = this.#rows[i];
    if (old[1] !== row[1] || old[2] !== row[2] || old[3] !== row[3]) {
      this.#hooks.rowChanged(row[0]);
    }
    this.#rows[i] = row;
  }

  #changed(changed: readonly Row[], now: number): void {
    this.#hooks.applied(now);
    if (!this.#welcomed) {
      this.#pending = changed;
      return;
    }
    this.#print(changed, now);
  }

  #print(changed: readonly Row[], now: number): void {
    this.#pending = null;
    const ctx = this.#ctx;
    ctx.emit({ type: "table_updated", version: this.#version });
    // Copies: the event outlives this version of the table.
    const rows = this.#rows.slice();
    ctx.emit({
      type: "table",
      rows,
      changed: changed === this.#rows ? rows : changed.slice(),
    });
    if (!this.#shown) {
      this.#shown = true;
      this.#hooks.shown(now);
    }
  }
}
