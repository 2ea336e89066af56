/**
 * Claimed names (issue 14): what a claimed client signs, and how a signature
 * is checked. A claimed name is bound on the server to an Ed25519 public key
 * (RFC 8032) derived on the client from a passphrase and the name; `reg`
 * carries the key (`pk`), the server's fresh challenge (`ch`, from `retry`)
 * and a signature (`sig`) over the payloads below; `dereg` carries a
 * signature over its session token and id.
 *
 * Signing and verifying use `@noble/curves` (audited, synchronous), so the
 * core stays synchronous and sans-I/O; see protocol/README.md, "Claimed
 * names", for why and what it costs.
 *
 * @module
 */
// A pinned inline specifier, not an import map entry: main.ts must also run
// with `--no-config` (tests/e2e_console_test.ts), where the map is absent.
// deno-lint-ignore no-import-prefix
import { ed25519 } from "npm:@noble/curves@2.4.0/ed25519.js";

/** Length of an Ed25519 public key in base64url without padding (32 bytes). */
export const PUBLIC_KEY_CHARS = 43;
/** Length of an Ed25519 signature in base64url without padding (64 bytes). */
export const SIGNATURE_CHARS = 86;
/** Length of a challenge in base64url without padding (16 random bytes). */
export const CHALLENGE_CHARS = 22;

const encoder = new TextEncoder();

/**
 * The bytes a claimed `reg` signs: the name, the server's challenge and the
 * public key, under a fixed context string; then the X25519 key `xk` when
 * the `reg` carries one (so nobody on the path can swap it).
 *
 * @param reg The name, challenge, public key and X25519 key, as sent.
 * @returns The UTF-8 bytes signed.
 */
export function regPayload(
  reg: { name: string; ch: string; pk: string; xk?: string },
): Uint8Array {
  const xk = reg.xk === undefined ? "" : `\n${reg.xk}`;
  return encoder.encode(
    `udpchat/1 reg\n${reg.name}\n${reg.ch}\n${reg.pk}${xk}`,
  );
}

/**
 * The bytes a claimed `dereg` signs: the name, the session token (fresh at
 * every welcome) and the request id.
 *
 * @param dereg The name, token and id, as sent.
 * @returns The UTF-8 bytes signed.
 */
export function deregPayload(
  dereg: { name: string; tok: string; id: number },
): Uint8Array {
  return encoder.encode(
    `udpchat/1 dereg\n${dereg.name}\n${dereg.tok}\n${dereg.id}`,
  );
}

/**
 * Encodes bytes as base64url without padding (RFC 4648 section 5).
 *
 * @param bytes The bytes.
 * @returns Their base64url text.
 *
 * @example Usage
 * ```ts
 * import { toBase64Url } from "./claim.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(toBase64Url(new Uint8Array([251, 255])), "-_8");
 * ```
 */
export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes base64url without padding; undefined when it is not that.
 *
 * @param text The base64url text.
 * @returns The bytes, or undefined.
 */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Whether `sig` is a valid Ed25519 signature of `payload` by `pk` (both
 * base64url). Never throws: a malformed key or signature is invalid.
 *
 * @param check The base64url public key and signature, and the bytes signed.
 * @returns True only for a valid signature.
 */
export function verifySignature(
  check: { pk: string; sig: string; payload: Uint8Array },
): boolean {
  const pk = fromBase64Url(check.pk);
  const sig = fromBase64Url(check.sig);
  if (pk?.length !== 32 || sig?.length !== 64) return false;
  try {
    return ed25519.verify(sig, check.payload, pk);
  } catch {
    return false;
  }
}

/** A claimed client's signing key: its public half, and a synchronous signer. */
export interface ClaimKey {
  /** The Ed25519 public key, base64url (43 characters). */
  publicKey: string;
  /** Signs bytes; returns the signature in base64url (86 characters). */
  sign(payload: Uint8Array): string;
}

/**
 * The claim key of an Ed25519 seed (RFC 8032 section 5.1.5: the 32-byte
 * private key). The seed is derived from the passphrase and the name by the
 * adapter (runtime/claim_key.ts); it never leaves the client.
 *
 * @param seed 32 secret bytes.
 * @returns The public key and a signer.
 *
 * @example Usage
 * ```ts
 * import { claimKeyFromSeed, regPayload, verifySignature } from "./claim.ts";
 * import { assert } from "../tests/_assert.ts";
 * const key = claimKeyFromSeed(new Uint8Array(32).fill(1));
 * const payload = regPayload({ name: "userA", ch: "c", pk: key.publicKey });
 * assert(verifySignature({ pk: key.publicKey, sig: key.sign(payload), payload }));
 * ```
 */
export function claimKeyFromSeed(seed: Uint8Array): ClaimKey {
  if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
  const secret = seed.slice();
  return {
    publicKey: toBase64Url(ed25519.getPublicKey(secret)),
    sign: (payload) => toBase64Url(ed25519.sign(payload, secret)),
  };
}
