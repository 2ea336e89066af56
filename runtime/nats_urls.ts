/**
 * The value of `--store nats://...`: parsed when the command line is read
 * (cli/args.ts: a bad URL is a usage error, exit status 2) and when the
 * store connects (runtime/nats_store.ts).
 *
 * @module
 */

/**
 * Parses the value of `--store nats://HOST:PORT[,nats://HOST2:PORT2...]` into
 * the list of server URLs.
 *
 * @example
 * ```ts
 * import { parseNatsUrls } from "./nats_urls.ts";
 * parseNatsUrls("nats://127.0.0.1:4222,nats://[::1]:4223");
 * // ["nats://127.0.0.1:4222", "nats://[::1]:4223"]
 * ```
 *
 * @throws {TypeError} when a part is not `nats://HOST:PORT` with a port from 1
 *   to 65535, or the list is empty.
 */
export function parseNatsUrls(spec: string): string[] {
  const parts = spec.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) throw new TypeError("no NATS server URL given");
  return parts.map((part) => {
    const m = /^nats:\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:[\]@]+):(\d{1,5})$/.exec(
      part,
    );
    const port = m === null ? 0 : Number(m[2]);
    if (m === null || port < 1 || port > 65535) {
      throw new TypeError(
        `bad NATS server URL "${part}": expected nats://HOST:PORT`,
      );
    }
    return `nats://${m[1]}:${port}`;
  });
}
