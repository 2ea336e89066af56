/**
 * Where the server's random identifiers come from: datagram ids, tokens and
 * the boot id, all drawn from the one `random` source of its options.
 *
 * @module
 */
import { ID_SEED_BYTES, ID_SEED_SPREAD } from "./constants.ts";

/**
 * Random bytes as lowercase hex, two digits a byte.
 *
 * @param random The source of random bytes.
 * @param bytes How many bytes to draw.
 * @returns `2 × bytes` hex digits.
 *
 * @example Usage
 * ```ts
 * import { randomHex } from "./ids.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(randomHex((n) => new Uint8Array(n).fill(171), 2), "abab");
 * ```
 */
export function randomHex(
  random: (length: number) => Uint8Array,
  bytes: number,
): string {
  return [...random(bytes)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * The ids of the datagrams the server sends reliably (ACKs echo them): one
 * counter from a random start, so that ids of two server runs rarely meet.
 *
 * @example Usage
 * ```ts
 * import { DatagramIds } from "./ids.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const ids = new DatagramIds((n) => new Uint8Array(n));
 * assertEquals(ids.next(), 1);
 * assertEquals(ids.next(), 2);
 * ```
 */
export class DatagramIds {
  #next: number;

  /** @param random The source of the seed (draws {@linkcode ID_SEED_BYTES} bytes). */
  constructor(random: (length: number) => Uint8Array) {
    const seed = random(ID_SEED_BYTES);
    this.#next = ((seed[0] << 16) | (seed[1] << 8) | seed[2]) * ID_SEED_SPREAD +
      1;
  }

  /** The next id. */
  next(): number {
    return this.#next++;
  }
}
