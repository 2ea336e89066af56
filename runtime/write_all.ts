/**
 * Writing whole lines to stdout or stderr: the one helper every adapter uses.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A synchronous writer, such as `Deno.stdout` or `Deno.stderr`. */
export interface SyncWriter {
  /** Writes some of `p`, returning how many bytes were written. */
  writeSync(p: Uint8Array): number;
}

/**
 * Writes all of `text` as UTF-8, looping over short writes.
 *
 * @param writer Where to write (`Deno.stdout`, `Deno.stderr`).
 * @param text What to write, newlines included.
 * @throws `Deno.errors.BrokenPipe` when the reader has gone (a closed pipe),
 * for the caller to end cleanly.
 *
 * @example Usage
 * ```ts
 * import { writeAll } from "./write_all.ts";
 * const chunks: Uint8Array[] = [];
 * writeAll({ writeSync: (p) => (chunks.push(p.slice(0, 2)), Math.min(2, p.length)) }, "hello");
 * ```
 */
export function writeAll(writer: SyncWriter, text: string): void {
  const bytes = encoder.encode(text);
  let n = 0;
  while (n < bytes.length) n += writer.writeSync(bytes.subarray(n));
}
