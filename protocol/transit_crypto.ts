/**
 * Encryption in transit between the server and each client (issue 14,
 * "Encrypted in transit, everywhere"; protocol/README.md, "Transit
 * sealing").
 *
 * The server draws an X25519 key pair per boot and sends its public half in
 * the (plaintext) `welcome` as `sk`; the client sent its own public key `xk`
 * in `reg`. Both derive, per session:
 *
 * - `material = HKDF-SHA-256(X25519(secret, peer public), salt = server
 *   public ‖ client public, info = "udpchat/1 transit")` (RFC 7748,
 *   RFC 5869), 64 bytes: the first 32 are the client → server key, the last
 *   32 the server → client key, so the two directions never share a
 *   (key, nonce) pair;
 * - every datagram after the welcome is an envelope:
 *   `0x01 ‖ nonce (12) ‖ ChaCha20-Poly1305(key, nonce, AD = 0x01,
 *   plaintext = the JSON datagram) ‖ tag (16)` (RFC 8439), 29 bytes more than
 *   the plaintext. No plaintext datagram starts with `0x01` (they are JSON
 *   objects, `{`).
 *
 * Nonces: the server counts (one counter per boot, across every session;
 * its key pair is fresh per boot); a client draws 12 random bytes per
 * datagram (a claimed name's key is the same across processes, so a counter
 * could repeat).
 *
 * @module
 */
// Pinned inline specifiers, as in e2e_crypto.ts (main.ts runs with `--no-config`).
// deno-lint-ignore no-import-prefix
import { chacha20poly1305 } from "npm:@noble/ciphers@2.4.0/chacha.js";
// deno-lint-ignore no-import-prefix
import { hkdf } from "npm:@noble/hashes@2.4.0/hkdf.js";
// deno-lint-ignore no-import-prefix
import { sha256 } from "npm:@noble/hashes@2.4.0/sha2.js";
import { fromBase64Url } from "./claim.ts";
import { type AgreementKey, agreementKeyFromSecret } from "./e2e_crypto.ts";

/** The first byte of a sealed datagram (a plaintext one starts with `{`). */
export const SEALED_MARKER = 0x01;
/** Bytes of an envelope's nonce (ChaCha20-Poly1305, RFC 8439). */
export const TRANSIT_NONCE_BYTES = 12;
/** Bytes of an envelope's authentication tag. */
export const TRANSIT_TAG_BYTES = 16;
/** Bytes an envelope adds to its plaintext: marker, nonce and tag (29). */
export const ENVELOPE_OVERHEAD_BYTES: number = 1 + TRANSIT_NONCE_BYTES +
  TRANSIT_TAG_BYTES;

const encoder = new TextEncoder();
const INFO = encoder.encode("udpchat/1 transit");
const SERVER_KEY_SALT = encoder.encode("udpchat/1 transit server key");
const AD = new Uint8Array([SEALED_MARKER]);

/** Which end of a session: it picks the sending and the receiving key. */
export type TransitRole = "server" | "client";

/**
 * Whether a datagram is an envelope (starts with {@linkcode SEALED_MARKER}).
 *
 * @param bytes The datagram's payload.
 * @returns True for an envelope, whether or not it opens.
 *
 * @example Usage
 * ```ts
 * import { isSealed } from "./transit_crypto.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(isSealed(new TextEncoder().encode('{"v":1}')), false);
 * assertEquals(isSealed(new Uint8Array([1, 0])), true);
 * ```
 */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === SEALED_MARKER;
}

/**
 * One session's transit keys: seals what this end sends, opens what the
 * other end sent.
 */
export class TransitSession {
  #sendKey: Uint8Array;
  #receiveKey: Uint8Array;

  /**
   * Makes a session from its key material (see {@linkcode transitSession}).
   *
   * @param material 64 bytes from HKDF: client → server key, then server →
   * client key.
   * @param options Which end this is.
   */
  constructor(material: Uint8Array, options: { role: TransitRole }) {
    if (material.length !== 64) {
      throw new RangeError("transit key material is 64 bytes");
    }
    const up = material.slice(0, 32), down = material.slice(32, 64);
    this.#sendKey = options.role === "client" ? up : down;
    this.#receiveKey = options.role === "client" ? down : up;
  }

  /**
   * Seals a datagram.
   *
   * @param plaintext The datagram as `encodeMessage` made it.
   * @param nonce {@linkcode TRANSIT_NONCE_BYTES} bytes, never used twice with
   * this session's sending key.
   * @returns The envelope, {@linkcode ENVELOPE_OVERHEAD_BYTES} longer.
   * @throws {RangeError} When the nonce has the wrong length.
   */
  seal(plaintext: Uint8Array, nonce: Uint8Array): Uint8Array {
    if (nonce.length !== TRANSIT_NONCE_BYTES) {
      throw new RangeError(`a transit nonce is ${TRANSIT_NONCE_BYTES} bytes`);
    }
    const body = chacha20poly1305(this.#sendKey, nonce, AD).encrypt(plaintext);
    const out = new Uint8Array(1 + TRANSIT_NONCE_BYTES + body.length);
    out[0] = SEALED_MARKER;
    out.set(nonce, 1);
    out.set(body, 1 + TRANSIT_NONCE_BYTES);
    return out;
  }

  /**
   * Opens an envelope from the other end. Never throws.
   *
   * @param envelope The datagram's payload.
   * @returns The plaintext datagram, or undefined when it is not an
   * envelope, is truncated, was tampered with or was sealed under another key.
   */
  open(envelope: Uint8Array): Uint8Array | undefined {
    if (
      !isSealed(envelope) || envelope.length < ENVELOPE_OVERHEAD_BYTES
    ) return undefined;
    const nonce = envelope.subarray(1, 1 + TRANSIT_NONCE_BYTES);
    try {
      return chacha20poly1305(this.#receiveKey, nonce, AD).decrypt(
        envelope.subarray(1 + TRANSIT_NONCE_BYTES),
      );
    } catch {
      return undefined;
    }
  }
}

/**
 * Agrees a session's transit keys with the other end's X25519 public key.
 *
 * @param mine This end's agreement key (the server's per boot, or the
 * client's).
 * @param options The other end's public key (base64url) and this end's role.
 * @returns The session, or undefined when the peer key is invalid.
 *
 * @example Usage
 * ```ts
 * import { agreementKeyFromSecret } from "./e2e_crypto.ts";
 * import { transitSession } from "./transit_crypto.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const server = agreementKeyFromSecret(new Uint8Array(32).fill(1));
 * const client = agreementKeyFromSecret(new Uint8Array(32).fill(2));
 * const s = transitSession(server, { peer: client.publicKey, role: "server" })!;
 * const c = transitSession(client, { peer: server.publicKey, role: "client" })!;
 * const sealed = s.seal(new Uint8Array([123]), new Uint8Array(12));
 * assertEquals(c.open(sealed), new Uint8Array([123]));
 * assertEquals(s.open(sealed), undefined); // not the other direction's key
 * ```
 */
export function transitSession(
  mine: AgreementKey,
  options: { peer: string; role: TransitRole },
): TransitSession | undefined {
  const peer = fromBase64Url(options.peer);
  const me = fromBase64Url(mine.publicKey);
  if (peer?.length !== 32 || me?.length !== 32) return undefined;
  const salt = new Uint8Array(64);
  salt.set(options.role === "server" ? me : peer);
  salt.set(options.role === "server" ? peer : me, 32);
  const material = mine.derive(options.peer, { salt, info: INFO, length: 64 });
  return material === undefined
    ? undefined
    : new TransitSession(material, { role: options.role });
}

/**
 * The server's agreement key for one boot, derived from secret random bytes
 * drawn at start (`HKDF-SHA-256(seed, salt = "udpchat/1 transit server
 * key")`), so that the server draws no more random bytes than before.
 *
 * @param seed At least 16 secret random bytes of this boot.
 * @returns The server's X25519 key.
 *
 * @example Usage
 * ```ts
 * import { serverTransitKey } from "./transit_crypto.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const key = serverTransitKey(new Uint8Array(32).fill(7));
 * assertEquals(key.publicKey.length, 43);
 * ```
 */
export function serverTransitKey(seed: Uint8Array): AgreementKey {
  return agreementKeyFromSecret(hkdf(sha256, seed, SERVER_KEY_SALT, INFO, 32));
}

/**
 * Counter nonces for the server's envelopes: a 32-bit big-endian prefix,
 * then a 64-bit big-endian count. The prefix is 0 for a server whose key
 * pair is fresh per boot; the leaders of a NATS-backed chat share one key
 * pair and each uses its own term as the prefix
 * (server/chat_identity.ts). Either way a (key, nonce) pair never repeats
 * (RFC 8439, section 4).
 *
 * @example Usage
 * ```ts
 * import { NonceCounter } from "./transit_crypto.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const nonces = new NonceCounter({ prefix: 2 });
 * assertEquals([...nonces.next()], [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
 * assertEquals([...nonces.next()], [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
 * ```
 */
export class NonceCounter {
  #count = 0n;
  #prefix: number;

  /**
   * Makes a counter from 0 under a prefix.
   *
   * @param options `prefix`: the first 4 bytes of every nonce (a uint32,
   * default 0).
   * @throws {RangeError} When the prefix is not a uint32.
   */
  constructor(options: { prefix?: number } = {}) {
    const prefix = options.prefix ?? 0;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 0xffff_ffff) {
      throw new RangeError("a nonce prefix is a 32-bit unsigned integer");
    }
    this.#prefix = prefix;
  }

  /** The next nonce, {@linkcode TRANSIT_NONCE_BYTES} bytes. */
  next(): Uint8Array {
    const nonce = new Uint8Array(TRANSIT_NONCE_BYTES);
    const view = new DataView(nonce.buffer);
    view.setUint32(0, this.#prefix);
    view.setBigUint64(4, this.#count++);
    return nonce;
  }
}
