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
  const shown = changed.slice(0, 5).map(([n, , , o]) =>
    `${n} ${o ? "Online" : "Offline"}`
  );
  const more = changed.length > 5 ? ` (+${changed.length - 5} more)` : "";
  const what = changed.length === rows.length
    ? "full table"
    : `changed: ${shown.join(", ")}${more}`;
  return `{${rows.length} users: ${online} Online, ${
    rows.length - online
  } Offline; ${what}}`;
}

/** Encoded size budget for the rows of one table datagram. */
const ROWS_BUDGET = 1050;
const encoder = new TextEncoder();

/**
 * Splits rows into groups that each fit one table datagram.
 *
 * @param rows The rows to send.
 * @returns Groups of rows, at least one (possibly empty) group.
 *
 * @example Usage
 * ```ts
 * import { chunkRows } from "./table.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(chunkRows([]).length, 1);
 * ```
 */
export function chunkRows(rows: readonly Row[]): Row[][] {
  const out: Row[][] = [[]];
  let size = 0;
  for (const row of rows) {
    // JSON size of a row: names and IPs are ASCII-safe or UTF-8; measure exactly.
    const n = encoder.encode(JSON.stringify(row)).length + 1;
    if (size + n > ROWS_BUDGET || out[out.length - 1].length >= 64) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1].push(row);
    size += n;
  }
  return out;
}
