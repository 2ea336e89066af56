/**
 * The decoder's readers for the table's messages: rows (`[name, ip, port,
 * online, key?, claimed?]`), table parts (`tbl`) and big-room summaries
 * (`sum`), as `protocol/README.md` ("The table", "Rooms") defines them.
 * Each returns the message or undefined for a bad field; none throws.
 * {@linkcode decodeMessage} in `codec.ts` is the public entry.
 *
 * @module
 */
import type { Row, SummaryMessage, TableMessage } from "./messages.ts";
import {
  b64,
  type Fields,
  flag,
  name,
  optional,
  str,
  uint,
} from "./_validate.ts";
import { AGREEMENT_KEY_CHARS } from "./e2e_crypto.ts";

/** Most changed rows a `sum` lists (the summary line names five). */
const SUMMARY_ROWS = 5;

/**
 * Reads a list of at most 64 rows: each `[name, ip, port, online]`, then
 * optionally the X25519 key (base64url) and a 1 for a claimed name.
 *
 * @param o The decoded JSON object.
 * @param key The field holding the rows (default `rows`).
 * @returns The rows, or undefined if any is malformed.
 */
export function readRows(o: Fields, key = "rows"): Row[] | undefined {
  const v = o[key];
  if (!Array.isArray(v) || v.length > 64) return undefined;
  const out: Row[] = [];
  for (const r of v) {
    if (!Array.isArray(r) || r.length < 4 || r.length > 6) return undefined;
    const [n, ip, port, online, key, claimed] = r as unknown[];
    const row = { n, ip, port, online } as Fields;
    const nm = name(row, "n");
    const addr = str(row, "ip", 45);
    const p = uint(row, "port");
    if (nm === undefined || addr === undefined || addr === "") return undefined;
    if (p === undefined || p > 65535 || (online !== 0 && online !== 1)) {
      return undefined;
    }
    if (r.length === 4) {
      out.push([nm, addr, p, online]);
      continue;
    }
    // The X25519 key (base64url), then 1 for a claimed name.
    const xk = b64({ key }, "key", AGREEMENT_KEY_CHARS);
    if (xk === undefined || (r.length === 6 && claimed !== 1)) return undefined;
    out.push(
      r.length === 6 ? [nm, addr, p, online, xk, 1] : [nm, addr, p, online, xk],
    );
  }
  return out;
}

/**
 * Reads a table part (`tbl`): a version, its rows, and either a delta base
 * (`from`) or its place among the parts (`i` of `n`, `n` at most 10,000).
 *
 * @param o The decoded JSON object (its `t` is `tbl`).
 * @param id Its datagram id, already read.
 * @returns The message, or undefined for a bad field.
 */
export function readTable(o: Fields, id: number): TableMessage | undefined {
  const ver = uint(o, "ver");
  const from = optional(o, "from", uint);
  const i = optional(o, "i", uint);
  const n = optional(o, "n", uint);
  const q = flag(o, "q");
  const rs = readRows(o);
  if (
    ver === undefined || !from.ok || !i.ok || !n.ok || q === undefined ||
    rs === undefined
  ) {
    return undefined;
  }
  const m: TableMessage = { t: "tbl", id, ver, rows: rs };
  if (from.value !== undefined) m.from = from.value;
  // A snapshot always says which part it is; a delta may be one datagram.
  if ((i.value === undefined) !== (n.value === undefined)) return undefined;
  if (i.value === undefined && from.value === undefined) return undefined;
  if (i.value !== undefined && n.value !== undefined) {
    if (n.value < 1 || i.value >= n.value || n.value > 10_000) {
      return undefined;
    }
    m.i = i.value;
    m.n = n.value;
  }
  if (q === 1) m.q = 1;
  return m;
}

/**
 * Reads a big room's summary (`sum`): the version, the user and Online
 * counts (`on` at most `u`), the full flag, how many more changed, at most
 * five changed rows and the looked-up rows (`w`).
 *
 * @param o The decoded JSON object (its `t` is `sum`).
 * @param id Its datagram id, already read.
 * @returns The message, or undefined for a bad field.
 */
export function readSummary(o: Fields, id: number): SummaryMessage | undefined {
  const ver = uint(o, "ver");
  const u = uint(o, "u");
  const on = uint(o, "on");
  const full = flag(o, "full");
  const more = optional(o, "more", uint);
  const q = flag(o, "q");
  const rs = readRows(o);
  const w = optional(o, "w", readRows);
  if (ver === undefined || u === undefined || on === undefined) {
    return undefined;
  }
  if (
    full === undefined || q === undefined || !more.ok || rs === undefined ||
    !w.ok
  ) {
    return undefined;
  }
  if (on > u || rs.length > SUMMARY_ROWS) return undefined;
  const m: SummaryMessage = { t: "sum", id, ver, u, on, rows: rs };
  if (full === 1) m.full = 1;
  if (more.value !== undefined) m.more = more.value;
  if (w.value !== undefined) m.w = w.value;
  if (q === 1) m.q = 1;
  return m;
}
