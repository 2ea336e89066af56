/**
 * The seed's time stamps, in the local time of the process that makes them.
 *
 * @module
 */

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * Formats a time as `YYYY-MM-DD HH:MM:SS` in local time.
 *
 * @param epochMs Milliseconds since the Unix epoch.
 * @returns The local date and time.
 *
 * @example Usage
 * ```ts
 * import { formatStamp } from "./time.ts";
 * import { assertMatch } from "../tests/_assert.ts";
 * assertMatch(formatStamp(0), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
 * ```
 */
export function formatStamp(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${
    two(d.getHours())
  }:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * The `HH:MM:SS` part of a `YYYY-MM-DD HH:MM:SS` stamp.
 *
 * @param stamp A stamp made by {@linkcode formatStamp}.
 * @returns The time of day.
 *
 * @example Usage
 * ```ts
 * import { clockOf } from "./time.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(clockOf("2023-10-21 02:14:41"), "02:14:41");
 * ```
 */
export function clockOf(stamp: string): string {
  return stamp.slice(11);
}
