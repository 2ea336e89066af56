/**
 * Network addresses as the core sees them.
 *
 * @module
 */

/** A UDP endpoint. */
export interface Address {
  /** IP address literal. */
  hostname: string;
  /** UDP port. */
  port: number;
}

/**
 * A string key for an address, for maps and comparisons.
 *
 * @param address The address.
 * @returns `host:port` (IPv6 in brackets).
 *
 * @example Usage
 * ```ts
 * import { addressKey } from "./address.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(addressKey({ hostname: "::1", port: 5 }), "[::1]:5");
 * ```
 */
export function addressKey(address: Address): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

/**
 * Whether two addresses are the same endpoint.
 *
 * @param a One address.
 * @param b The other.
 * @returns True when host and port match.
 *
 * @example Usage
 * ```ts
 * import { sameAddress } from "./address.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(sameAddress({ hostname: "127.0.0.1", port: 1 }, { hostname: "127.0.0.1", port: 1 }), true);
 * ```
 */
export function sameAddress(a: Address, b: Address): boolean {
  return a.port === b.port && a.hostname === b.hostname;
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2),
 * as a dual-stack socket reports IPv4 peers; any other address unchanged.
 * Tables and keys then show an IPv4 client as the seed does (`127.0.0.1`).
 *
 * @param hostname An IP address literal.
 * @returns `a.b.c.d` for `::ffff:a.b.c.d`, otherwise `hostname`.
 *
 * @example Usage
 * ```ts
 * import { unmapIPv4 } from "./address.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(unmapIPv4("::ffff:127.0.0.1"), "127.0.0.1");
 * assertEquals(unmapIPv4("::1"), "::1");
 * ```
 */
export function unmapIPv4(hostname: string): string {
  const m = MAPPED_IPV4.exec(hostname);
  return m === null ? hostname : m[1];
}
