/**
 * Stateless address-validation cookies (as QUIC's Retry tokens): a keyed hash
 * of the client's address and the current minute. Only a client that receives
 * at its address can echo it back.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { type Address, addressKey } from "./address.ts";

const BUCKET_MS = 60_000;

function mac(key: Uint8Array, address: Address, bucket: number): string {
  return createHmac("sha256", key)
    .update(`${addressKey(address)}|${bucket}`)
    .digest("base64url")
    .slice(0, 22);
}

/**
 * Makes a cookie for an address.
 *
 * @param key The server's secret key.
 * @param address The address the cookie is for.
 * @param options `now`: the current time in milliseconds.
 * @returns A 22-character cookie.
 *
 * @example Usage
 * ```ts
 * import { checkCookie, makeCookie } from "./cookie.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const key = new Uint8Array(32);
 * const a = { hostname: "127.0.0.1", port: 6000 };
 * const ck = makeCookie(key, a, { now: 0 });
 * assertEquals(checkCookie(key, a, { cookie: ck, now: 1000 }), true);
 * assertEquals(checkCookie(key, { ...a, port: 6001 }, { cookie: ck, now: 1000 }), false);
 * ```
 */
export function makeCookie(
  key: Uint8Array,
  address: Address,
  options: { now: number },
): string {
  return mac(key, address, Math.floor(options.now / BUCKET_MS));
}

/**
 * Checks a cookie made for this address in this or the previous minute.
 *
 * @param key The server's secret key.
 * @param address The address the datagram came from.
 * @param options `cookie` to check and `now`.
 * @returns Whether the cookie is valid.
 */
export function checkCookie(
  key: Uint8Array,
  address: Address,
  options: { cookie: string; now: number },
): boolean {
  const bucket = Math.floor(options.now / BUCKET_MS);
  return options.cookie === mac(key, address, bucket) ||
    options.cookie === mac(key, address, bucket - 1);
}
