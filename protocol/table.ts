/**
 * The user table: printing it as the seed does and splitting it into datagrams.
 *
 * @module
 */
import type { Row } from "./messages.ts";

function pyString(s: string): string {
  // Python's repr() of a str: single quotes unless the text holds one and no double quote.
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else out += ch;
  }
  return out + quote;
}

/**
 * Prints a table as the seed does, a Python dict in registration order:
 * `{'userA': ['127.0.0.1', 6000, 'Online']}`.
 *
 * @param rows The rows in registration order.
 * @returns The dict text.
 *
 * @example Usage
 * ```ts
 * import { formatTable } from "./table.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(
 *   formatTable([["userA", "127.0.0.1", 6000, 1]]),
 *   "{'userA': ['127.0.0.1', 6000, 'Online']}",
 * );
 * ```
 */
export function formatTable(rows: readonly Row[]): string {
  const items = rows.map(([name, ip, port, online]) =>
    `${pyString(name)}: [${pyString(ip)}, ${port}, '${
      online ? "Online" : "Offline"
    }']`
  );
  return `{${items.join(", ")}}`;
}

/**
 * A one-line summary of a big table and what changed in it.
 *
 * @param rows All rows.
 * @param changed The rows that changed in this update.
 * @returns e.g. `{1000 users: 998 Online, 2 Offline; changed: userB Offline, userC Online}`.
 *
 * @example Usage
 * ```ts
 * import { summarizeTable } from "./table.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(
 *   summarizeTable([["a", "h", 1, 1], ["b", "h", 2, 0]], [["b", "h", 2, 0]]),
 *   "{2 users: 1 Online, 1 Offline; changed: b Offline}",
 * );
 * ```
 */
export function summarizeTable(
  rows: readonly Row[],
  changed: readonly Row[],
): string {
  const online = rows.reduce((n, r) => n + r[3], 0);
  return summarizeCounts({
    users: rows.length,
    online,
    changed: changed.slice(0, SUMMARY_NAMES),
    more: Math.max(0, changed.length - SUMMARY_NAMES),
    full: changed.length === rows.length,
  });
}

/** Changed rows a summary names; the rest are counted. */
export const SUMMARY_NAMES = 5;

/** What a one-line table summary says, without the table's rows. */
export interface TableSummary {
  /** Users in the table. */
  users: number;
  /** Users Online. */
  online: number;
  /** The first changed rows (at most {@linkcode SUMMARY_NAMES} are named). */
  changed: readonly Row[];
  /** How many more rows changed. */
  more: number;
  /** Whether everything was new (printed as "full table"). */
  full: boolean;
}

/**
 * The one-line summary of {@linkcode summarizeTable} from counts alone, as a
 * client in a big room prints it from a `sum` datagram.
 *
 * @param s The counts and changed rows.
 * @returns e.g. `{40 users: 39 Online, 1 Offline; changed: userB Offline}`.
 *
 * @example Usage
 * ```ts
 * import { summarizeCounts } from "./table.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(
 *   summarizeCounts({ users: 40, online: 39, changed: [["b", "h", 2, 0]], more: 2, full: false }),
 *   "{40 users: 39 Online, 1 Offline; changed: b Offline (+2 more)}",
 * );
 * ```
 */
export function summarizeCounts(s: TableSummary): string {
  const shown = s.changed.slice(0, SUMMARY_NAMES).map(([n, , , o]) =>
    `${n} ${o ? "Online" : "Offline"}`
  );
  const more = s.more > 0 ? ` (+${s.more} more)` : "";
  const what = s.full ? "full table" : `changed: ${shown.join(", ")}${more}`;
  return `{${s.users} users: ${s.online} Online, ${
    s.users - s.online
  } Offline; ${what}}`;
}

/** Encoded size budget for the rows of one table datagram. */
const ROWS_BUDGET = 1050;
const encoder = new TextEncoder();

/** A table row already encoded as JSON, with its size in bytes. */
export interface EncodedRow {
  /** The row's JSON text. */
  json: string;
  /** Its UTF-8 size. */
  size: number;
}

/**
 * Encodes a row once, for servers that send it to many clients.
 *
 * @param row The row.
 * @returns Its JSON and size.
 *
 * @example Usage
 * ```ts
 * import { encodeRow } from "./table.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(encodeRow(["a", "127.0.0.1", 1, 1]), { json: '["a","127.0.0.1",1,1]', size: 21 });
 * ```
 */
export function encodeRow(row: Row): EncodedRow {
  const json = JSON.stringify(row);
  return { json, size: encoder.encode(json).length };
}

/**
 * Splits encoded rows into groups that each fit one table datagram.
 *
 * @param rows The encoded rows.
 * @returns At least one (possibly empty) group of JSON texts.
 */
export function chunkEncodedRows(rows: readonly EncodedRow[]): string[][] {
  const out: string[][] = [[]];
  let size = 0;
  for (const row of rows) {
    if (size + row.size + 1 > ROWS_BUDGET || out[out.length - 1].length >= 64) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1].push(row.json);
    size += row.size + 1;
  }
  return out;
}

/** Fields of a table datagram other than its rows. */
export interface TablePartHead {
  /** Datagram id. */
  id: number;
  /** Table version. */
  ver: number;
  /** Delta base version, for a delta. */
  from?: number;
  /** Part index, with `n`. */
  i?: number;
  /** Part count, with `i`. */
  n?: number;
  /** 1: a quiet update (printed by no client; `TableMessage.q`). */
  q?: 1;
}

/**
 * Encodes a `tbl` datagram from pre-encoded rows: the same bytes as
 * `encodeMessage` would make, without encoding each row again.
 *
 * @param head Id, version, delta base and part numbers.
 * @param rows The rows' JSON texts.
 * @returns The datagram.
 *
 * @example Usage
 * ```ts
 * import { encodeTablePart } from "./table.ts";
 * import { decodeMessage } from "./codec.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const bytes = encodeTablePart({ id: 1, ver: 2, i: 0, n: 1 }, ['["a","127.0.0.1",1,1]']);
 * assertEquals(decodeMessage(bytes), {
 *   ok: true,
 *   message: { t: "tbl", id: 1, ver: 2, i: 0, n: 1, rows: [["a", "127.0.0.1", 1, 1]] },
 * });
 * ```
 */
export function encodeTablePart(
  head: TablePartHead,
  rows: readonly string[],
): Uint8Array {
  let text = `{"v":1,"t":"tbl","id":${head.id},"ver":${head.ver}`;
  if (head.from !== undefined) text += `,"from":${head.from}`;
  if (head.i !== undefined && head.n !== undefined) {
    text += `,"i":${head.i},"n":${head.n}`;
  }
  if (head.q === 1) text += `,"q":1`;
  return encoder.encode(`${text},"rows":[${rows.join(",")}]}`);
}

/** Fields of a `sum` datagram other than its rows. */
export interface SummaryHead {
  /** Datagram id. */
  id: number;
  /** Table version. */
  ver: number;
  /** Users in the table. */
  u: number;
  /** Users Online. */
  on: number;
  /** Whether everything is new to the client. */
  full: boolean;
  /** Changed rows not listed. */
  more: number;
  /** 1: a quiet update (printed by no client; `SummaryMessage.q`). */
  q?: 1;
}

/**
 * Encodes a `sum` datagram from pre-encoded rows: the same bytes as
 * `encodeMessage` would make.
 *
 * @param head Id, version, counts.
 * @param rows The listed changed rows' JSON texts (at most five).
 * @param watched The JSON texts of changed rows the client looked up.
 * @returns The datagram.
 *
 * @example Usage
 * ```ts
 * import { encodeSummary } from "./table.ts";
 * import { decodeMessage } from "./codec.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const bytes = encodeSummary(
 *   { id: 1, ver: 2, u: 40, on: 40, full: false, more: 0 },
 *   ['["a","127.0.0.1",1,1]'],
 *   [],
 * );
 * assertEquals(decodeMessage(bytes), {
 *   ok: true,
 *   message: { t: "sum", id: 1, ver: 2, u: 40, on: 40, rows: [["a", "127.0.0.1", 1, 1]] },
 * });
 * ```
 */
export function encodeSummary(
  head: SummaryHead,
  rows: readonly string[],
  watched: readonly string[],
): Uint8Array {
  let text =
    `{"v":1,"t":"sum","id":${head.id},"ver":${head.ver},"u":${head.u},"on":${head.on}`;
  if (head.full) text += `,"full":1`;
  if (head.more > 0) text += `,"more":${head.more}`;
  if (head.q === 1) text += `,"q":1`;
  text += `,"rows":[${rows.join(",")}]`;
  if (watched.length > 0) text += `,"w":[${watched.join(",")}]`;
  return encoder.encode(text + "}");
}

/** Bytes of rows (listed and watched) one `sum` datagram carries at most. */
export const SUMMARY_ROWS_BUDGET: number = ROWS_BUDGET;
