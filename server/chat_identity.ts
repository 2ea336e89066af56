/**
 * The identity of a chat that outlives its leaders (issue 10, "Failover":
 * "keeps its session; the token is valid on every node of a NATS-backed
 * chat"). Every node of a NATS-backed chat reads one record from the
 * store: the boot id its clients see, and the secret its transit key pair
 * comes from. A client whose leader changes then sees the same boot id and
 * the same server key, so its session (token, transit keys) goes on.
 *
 * What must still differ between two leaders is counted by the term, a
 * number each new leader takes from the same record by compare-and-set
 * (unique, increasing): it prefixes the transit nonces (a (key, nonce)
 * pair never repeats, RFC 8439 section 4), the ids of stored messages, and
 * it sets the base of table versions (a client takes only a table newer
 * than the one it has).
 *
 * Pure: the adapter (runtime/cluster_link.ts) reads and writes the record.
 *
 * @module
 */
import { fromBase64Url, toBase64Url } from "../protocol/claim.ts";
import { BOOT_ID_BYTES } from "./constants.ts";
import { randomHex } from "./ids.ts";

/** Bytes of the secret the chat's transit key pair is derived from. */
export const TRANSIT_SEED_BYTES = 32;

/**
 * Table versions one leader may use: leader `term` numbers its versions
 * from `term × 2^32`, above every version an earlier leader sent.
 */
export const VERSIONS_PER_TERM = 2 ** 32;

/** The largest term: its versions stay safe integers (2^53). */
export const MAX_TERM = 2 ** 20;

/** A chat's identity, as one leader holds it. */
export interface ChatIdentity {
  /** The chat's boot id (hex, `2 × BOOT_ID_BYTES` digits): sent to clients. */
  bootId: string;
  /**
   * {@linkcode TRANSIT_SEED_BYTES} secret bytes: the chat's transit key pair
   * is derived from them (protocol/transit_crypto.ts, `serverTransitKey`).
   */
  transitSeed: Uint8Array;
  /** This leader's term: 1 for the first, then one more per new leader. */
  term: number;
}

/**
 * A new chat's identity, term 0 (the first leader takes term 1).
 *
 * @param random The source of random bytes.
 * @returns A fresh identity.
 *
 * @example Usage
 * ```ts
 * import { newChatIdentity } from "./chat_identity.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const chat = newChatIdentity((n) => new Uint8Array(n).fill(1));
 * assertEquals(chat.bootId, "01010101");
 * assertEquals(chat.term, 0);
 * ```
 */
export function newChatIdentity(
  random: (length: number) => Uint8Array,
): ChatIdentity {
  return {
    bootId: randomHex(random, BOOT_ID_BYTES),
    transitSeed: random(TRANSIT_SEED_BYTES),
    term: 0,
  };
}

/**
 * The identity as the store keeps it: JSON `{"boot":…,"seed":…,"term":…}`,
 * the seed in base64url.
 *
 * @param chat The identity.
 * @returns Its JSON text.
 */
export function encodeChatIdentity(chat: ChatIdentity): string {
  return JSON.stringify({
    boot: chat.bootId,
    seed: toBase64Url(chat.transitSeed),
    term: chat.term,
  });
}

/**
 * Reads an identity the store kept, or `undefined` if it is not one (a
 * malformed record is never trusted: the caller refuses to lead with it).
 *
 * @param text The stored JSON text.
 * @returns The identity, or undefined.
 *
 * @example Usage
 * ```ts
 * import { encodeChatIdentity, newChatIdentity, parseChatIdentity } from "./chat_identity.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const chat = newChatIdentity((n) => new Uint8Array(n).fill(7));
 * assertEquals(parseChatIdentity(encodeChatIdentity(chat)), chat);
 * assertEquals(parseChatIdentity("{}"), undefined);
 * ```
 */
export function parseChatIdentity(text: string): ChatIdentity | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null) return undefined;
  const { boot, seed, term } = o as Record<string, unknown>;
  if (
    typeof boot !== "string" || !/^[0-9a-f]+$/.test(boot) ||
    boot.length !== 2 * BOOT_ID_BYTES || typeof seed !== "string" ||
    typeof term !== "number" || !Number.isSafeInteger(term) || term < 0 ||
    term >= MAX_TERM
  ) return undefined;
  const transitSeed = fromBase64Url(seed);
  if (transitSeed?.length !== TRANSIT_SEED_BYTES) return undefined;
  return { bootId: boot, transitSeed, term };
}

/**
 * The first table version of a leader (its change log starts there).
 *
 * @param term The leader's term (0: a server with no shared identity).
 * @returns `term × 2^32`.
 */
export function tableVersionBase(term: number): number {
  return term * VERSIONS_PER_TERM;
}
