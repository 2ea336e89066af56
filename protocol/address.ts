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
