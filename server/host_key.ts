/**
 * Which host an address belongs to, for quotas per source (issue 13): an
 * IPv4 address is one host; an IPv6 address belongs to its /64, the
 * prefix one site is given (RFC 6177 §2; RFC 4291 §2.5.4: interface ids are
 * the low 64 bits), so that one machine cannot escape a per-host quota by
 * taking new addresses from its own prefix.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";

/**
 * The key of the host an address belongs to: the IPv4 address itself, or
 * `a:b:c:d::/64` for an IPv6 address (lowercase, leading zeros dropped).
 *
 * @param address The source address (IPv4-mapped ones already unmapped).
 * @returns The host key.
 *
 * @example Usage
 * ```ts
 * import { hostKey } from "./host_key.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(hostKey({ hostname: "10.0.0.1", port: 5 }), "10.0.0.1");
 * assertEquals(
 *   hostKey({ hostname: "2001:db8:0:1::7", port: 5 }),
 *   "2001:db8:0:1::/64",
 * );
 * ```
 */
export function hostKey(address: Address): string {
  const host = address.hostname;
  if (!host.includes(":")) return host;
  const groups = ipv6Groups(host);
  if (groups === undefined) return host.toLowerCase();
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/**
 * Whether an address is loopback (`127.0.0.0/8` or `::1`): the host's own
 * users, exempt from per-host quotas.
 *
 * @param address The source address.
 * @returns True for a loopback address.
 *
 * @example Usage
 * ```ts
 * import { isLoopback } from "./host_key.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(isLoopback({ hostname: "127.0.0.1", port: 5 }), true);
 * assertEquals(isLoopback({ hostname: "10.0.0.1", port: 5 }), false);
 * ```
 */
export function isLoopback(address: Address): boolean {
  const host = address.hostname;
  return host === "::1" || host.startsWith("127.");
}

// The eight 16-bit groups of an IPv6 literal, as lowercase hex without
// leading zeros; undefined if it is not one.
function ipv6Groups(literal: string): string[] | undefined {
  const host = literal.split("%")[0].toLowerCase();
  const halves = host.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) =>
    s === ""
      ? []
      : s.split(":").flatMap((g) => g.includes(".") ? ["0", "0"] : [g]);
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array(missing).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
