/**
 * Big rooms (more than `TABLE_PRINT_LIMIT` users; protocol/README.md,
 * "Rooms"): clients hold no table. Each gets a one-datagram summary (`sum`:
 * the counts, the first changed rows) per gathered change, learns the rows
 * it needs with `who`, and the rows it looked up come back in its summaries
 * whenever they change. This part keeps who looked up whom (on the
 * {@linkcode Replica}s), which looked-up rows changed, and encodes the
 * summaries; `table_replication.ts` sends them.
 *
 * @module
 */
import {
  encodeSummary,
  SUMMARY_NAMES,
  SUMMARY_ROWS_BUDGET,
} from "../protocol/table.ts";
import type { Replica } from "./replica.ts";

/**
 * Rows one client may look up and have kept fresh; looking up one more
 * forgets the oldest (the client keeps as many, and asks again for a row it
 * no longer holds).
 */
export const WATCH_MAX = 256;

/** What changed since one version, as a summary names it. */
export interface Changes {
  /** The first changed, in registration order. */
  listed: Replica[];
  /** How many more changed. */
  more: number;
  /** More than half the table changed (or the log is too short). */
  full: boolean;
}

/**
 * What changed, as a summary lists it: the same rows a delta would print,
 * or "full table" where a snapshot would be sent.
 *
 * @param delta The replicas changed since the client's version, in
 * registration order; undefined when only a snapshot says what changed.
 */
export function summaryChanges(delta: Replica[] | undefined): Changes {
  if (delta === undefined) return { listed: [], more: 0, full: true };
  return {
    listed: delta.slice(0, SUMMARY_NAMES),
    more: Math.max(0, delta.length - SUMMARY_NAMES),
    full: false,
  };
}

/**
 * Client `r` looked `target` up (`who`): from now on its row comes back in
 * r's summaries whenever it changes, until r has looked up
 * {@linkcode WATCH_MAX} others since. Looking oneself up changes nothing.
 */
export function watch(r: Replica, target: Replica): void {
  if (target === r) return;
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

/**
 * A user's row changed in a big room: it goes back to the user itself and
 * to every client that looked it up, in their next summaries.
 */
export function markChanged(replica: Replica): void {
  replica.selfDirty = true;
  for (const w of replica.watchers ?? []) {
    (w.dirty ??= new Set()).add(replica);
  }
}

/** A new session holds no looked-up rows: forgets what this client watched. */
export function forgetLookups(replica: Replica): void {
  for (const t of replica.watching ?? []) t.watchers?.delete(replica);
  replica.watching = undefined;
  replica.dirty = undefined;
  replica.selfDirty = false;
}

/** A row removed: no client watches it, and it watches no one. */
export function unlinkLookups(replica: Replica): void {
  for (const t of replica.watching ?? []) t.watchers?.delete(replica);
  for (const w of replica.watchers ?? []) {
    w.watching?.delete(replica);
    w.dirty?.delete(replica);
  }
}

/** Whether a big room's client has looked-up rows (or its own) to be sent. */
export function hasDirty(r: Replica): boolean {
  return r.selfDirty === true || (r.dirty?.size ?? 0) > 0;
}

/**
 * Takes the changed rows a client's next summary carries after the listed
 * ones: its own first, then as many changed looked-up rows as fit
 * `SUMMARY_ROWS_BUDGET` bytes (the rest wait for the next summary).
 *
 * @param r The client.
 * @param c What the summary lists.
 * @returns The rows taken, no longer marked changed.
 */
export function takeChangedRows(r: Replica, c: Changes): Replica[] {
  let size = c.listed.reduce((n, x) => n + x.size + 1, 0);
  const watched: Replica[] = [];
  if (r.selfDirty) {
    r.selfDirty = false;
    size += r.size + 1;
    watched.push(r);
  }
  for (const x of r.dirty ?? []) {
    if (size + x.size + 1 > SUMMARY_ROWS_BUDGET) break;
    size += x.size + 1;
    watched.push(x);
    r.dirty!.delete(x);
  }
  if (r.dirty?.size === 0) r.dirty = undefined;
  return watched;
}

/**
 * A summary was lost: its looked-up rows (still watched) go in the next
 * one, which names what changed since the last one this client ACKed.
 */
export function requeueLost(r: Replica, watched: readonly Replica[]): void {
  for (const x of watched) {
    if (x === r) r.selfDirty = true;
    else if (r.watching?.has(x)) (r.dirty ??= new Set()).add(x);
  }
}

/**
 * One summary datagram: the counts, the listed rows, then the client's
 * changed looked-up rows.
 *
 * @param c What changed, as the summary names it.
 * @param watched The looked-up rows it carries (`w`).
 * @param head The datagram id, the table version, the users (`u`) and
 * those Online (`on`).
 */
export function encodeRoomSummary(
  c: Changes,
  watched: readonly Replica[],
  head: { id: number; ver: number; u: number; on: number; q?: 1 },
): Uint8Array {
  return encodeSummary(
    { ...head, full: c.full, more: c.more },
    c.listed.map((x) => x.json),
    watched.map((x) => x.json),
  );
}
