/**
 * The client's copy of the user table: snapshots and deltas gathered from
 * their parts and applied in version order, a resync when a version was
 * missed, and the decision of when to print it (not before the welcome; the
 * first table after a welcome releases what waited for it).
 *
 * @module
 */
import type { Row, TableMessage } from "../protocol/messages.ts";
import type { ClientContext } from "./context.ts";

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
}

interface Assembly {
  version: number;
  from: number | undefined;
  parts: (Row[] | undefined)[];
  got: number;
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

  /**
   * Makes an empty table, version -1.
   *
   * @param ctx The client's shared state.
   * @param hooks What it asks of the rest of the client.
   */
  constructor(ctx: ClientContext, hooks: TableHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
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
    return this.#pending === null;
  }

  /** The row of a user, if the table has one. */
  row(name: string): Row | undefined {
    const i = this.#index.get(name);
    return i === undefined ? undefined : this.#rows[i];
  }

  /** A `reg` goes out: what arrives is not printed before its welcome. */
  expectWelcome(): void {
    this.#welcomed = false;
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
  }

  /** Handles one table datagram (already ACKed and checked as new). */
  receive(m: TableMessage, now: number): void {
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
    this.#changed(a.from === undefined ? this.#rows : rows, now);
  }

  #upsert(row: Row): void {
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
