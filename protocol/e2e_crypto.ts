/**
 * End-to-end encryption of private messages (issue 14). Every client holds an
 * X25519 key (RFC 7748): derived from the passphrase for a claimed name
 * (runtime/claim_key.ts), a fresh random one each session otherwise. The
 * server publishes its public half in the client's table row. A private
 * message is sealed once, as a whole, before it is split into parts:
 *
 * - `shared = X25519(sender secret, recipient public)`;
 * - `key = HKDF-SHA-256(shared, salt = sender public ‖ recipient public,
 *   info = "udpchat/1 msg")` (RFC 5869), 32 bytes;
 * - `AES-256-GCM(key, nonce = 12 random bytes, plaintext = UTF-8 text,
 *   AD = "udpchat/1 msg\nFROM\nTO\nK")` (NIST SP 800-38D), binding the
 *   sender's and the recipient's names and the message key;
 * - the sealed text is base64url (RFC 4648 section 5, no padding) of
 *   `sender public (32) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
 *
 * The sealed text then travels as any text does (parts of at most 900 bytes,
 * at most 64 of them, with `e: 1`): 16 KiB of plaintext seal to 21,926
 * characters, 25 parts. Everything uses the audited, synchronous `@noble`
 * libraries, so the core stays synchronous and sans-I/O.
 *
 * @module
 */
// Pinned inline specifiers, not import map entries: main.ts must also run
// with `--no-config` (tests/e2e_console_test.ts), where the map is absent.
// deno-lint-ignore no-import-prefix
import { x25519 } from "npm:@noble/curves@2.4.0/ed25519.js";
// deno-lint-ignore no-import-prefix
import { hkdf } from "npm:@noble/hashes@2.4.0/hkdf.js";
// deno-lint-ignore no-import-prefix
import { sha256 } from "npm:@noble/hashes@2.4.0/sha2.js";
// deno-lint-ignore no-import-prefix
import { gcm } from "npm:@noble/ciphers@2.4.0/aes.js";
import { fromBase64Url, toBase64Url } from "./claim.ts";

/** Length of an X25519 public key in base64url without padding (32 bytes). */
export const AGREEMENT_KEY_CHARS = 43;
/** Bytes a sealed message adds to its plaintext: key, nonce and tag. */
export const SEAL_OVERHEAD_BYTES = 32 + 12 + 16;

const NONCE_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const INFO = encoder.encode("udpchat/1 msg");

/**
 * What a sealed message is bound to (its associated data): the sender's and
 * the recipient's names and the message key.
 */
export interface SealContext {
  /** The sender's name. */
  from: string;
  /** The recipient's name. */
  to: string;
  /** The message key `k`. */
  k: string;
}

/** The associated data of a sealed message: `udpchat/1 msg\nFROM\nTO\nK`. */
function associatedData(c: SealContext): Uint8Array {
  return encoder.encode(`udpchat/1 msg\n${c.from}\n${c.to}\n${c.k}`);
}

/**
 * The number of base64url characters a plaintext of `bytes` UTF-8 bytes
 * seals to.
 *
 * @param bytes The plaintext's UTF-8 length.
 * @returns The sealed text's length in characters.
 *
 * @example Usage
 * ```ts
 * import { sealedLength } from "./e2e_crypto.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(sealedLength(16384), 21926);
 * ```
 */
export function sealedLength(bytes: number): number {
  return Math.ceil(((bytes + SEAL_OVERHEAD_BYTES) * 4) / 3);
}

/** A client's X25519 key: its public half, and what it seals and opens. */
export interface AgreementKey {
  /** The X25519 public key, base64url (43 characters). */
  readonly publicKey: string;
  /**
   * Seals a text for a recipient's public key.
   *
   * @param text The plaintext.
   * @param options The recipient's public key (base64url), what the text is
   * bound to, and 12 random bytes for the nonce.
   * @returns The sealed text (base64url), or undefined when the recipient's
   * key is not a valid X25519 public key.
   */
  seal(
    text: string,
    options: { to: string; context: SealContext; nonce: Uint8Array },
  ): string | undefined;
  /**
   * Opens a sealed text. Never throws.
   *
   * @param sealed The sealed text, as {@linkcode AgreementKey.seal} made it.
   * @param context What it must be bound to.
   * @returns The plaintext and the sender's public key (base64url), or
   * undefined when it is malformed, tampered with, bound to something else
   * or sealed for another key.
   */
  open(
    sealed: string,
    context: SealContext,
  ): { text: string; senderKey: string } | undefined;
  /**
   * Derives key material shared with a peer, without revealing the secret:
   * `HKDF-SHA-256(X25519(secret, peer), salt, info)` (RFC 7748, RFC 5869).
   * Used for the transit keys (protocol/transit_crypto.ts).
   *
   * @param peer The peer's X25519 public key (base64url).
   * @param options HKDF salt and info, and how many bytes to derive.
   * @returns The bytes, or undefined when the peer key is not a valid
   * X25519 public key (malformed, or a low-order point).
   */
  derive(
    peer: string,
    options: { salt: Uint8Array; info: Uint8Array; length: number },
  ): Uint8Array | undefined;
}

/**
 * The agreement key of a 32-byte X25519 secret (RFC 7748 section 5; the
 * secret is clamped by X25519 itself).
 *
 * @param secret 32 secret bytes: from the passphrase, or random.
 * @returns The public key, a sealer and an opener; derived keys are cached
 * per peer key.
 *
 * @example Usage
 * ```ts
 * import { agreementKeyFromSecret } from "./e2e_crypto.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const a = agreementKeyFromSecret(new Uint8Array(32).fill(1));
 * const b = agreementKeyFromSecret(new Uint8Array(32).fill(2));
 * const context = { from: "userA", to: "userB", k: "userA:00:1" };
 * const sealed = a.seal("hi", { to: b.publicKey, context, nonce: new Uint8Array(12) })!;
 * assertEquals(b.open(sealed, context)?.text, "hi");
 * assertEquals(b.open(sealed, { ...context, to: "userC" }), undefined);
 * ```
 */
export function agreementKeyFromSecret(secret: Uint8Array): AgreementKey {
  if (secret.length !== 32) {
    throw new RangeError("an X25519 secret is 32 bytes");
  }
  const mine = secret.slice();
  const publicBytes = x25519.getPublicKey(mine);
  const publicKey = toBase64Url(publicBytes);
  // (sender public ‖ recipient public) → AES key; a few peers at most.
  const cache = new Map<string, Uint8Array>();
  const keyFor = (
    peer: Uint8Array,
    salt: { sender: Uint8Array; recipient: Uint8Array },
  ): Uint8Array => {
    const id = toBase64Url(salt.sender) + toBase64Url(salt.recipient);
    let key = cache.get(id);
    if (key === undefined) {
      const shared = x25519.getSharedSecret(mine, peer);
      const s = new Uint8Array(64);
      s.set(salt.sender);
      s.set(salt.recipient, 32);
      key = hkdf(sha256, shared, s, INFO, 32);
      if (cache.size >= 1024) cache.clear();
      cache.set(id, key);
    }
    return key;
  };
  return {
    publicKey,
    seal(text, options) {
      const to = fromBase64Url(options.to);
      if (to?.length !== 32 || options.nonce.length !== NONCE_BYTES) {
        return undefined;
      }
      try {
        const key = keyFor(to, { sender: publicBytes, recipient: to });
        const body = gcm(key, options.nonce, associatedData(options.context))
          .encrypt(encoder.encode(text));
        const out = new Uint8Array(32 + NONCE_BYTES + body.length);
        out.set(publicBytes);
        out.set(options.nonce, 32);
        out.set(body, 32 + NONCE_BYTES);
        return toBase64Url(out);
      } catch {
        // A low-order point: no shared secret.
        return undefined;
      }
    },
    derive(peer, options) {
      const bytes = fromBase64Url(peer);
      if (bytes?.length !== 32) return undefined;
      try {
        const shared = x25519.getSharedSecret(mine, bytes);
        return hkdf(sha256, shared, options.salt, options.info, options.length);
      } catch {
        return undefined;
      }
    },
    open(sealed, context) {
      const bytes = fromBase64Url(sealed);
      if (bytes === undefined || bytes.length < SEAL_OVERHEAD_BYTES) {
        return undefined;
      }
      const sender = bytes.slice(0, 32);
      const nonce = bytes.slice(32, 32 + NONCE_BYTES);
      try {
        const key = keyFor(sender, { sender, recipient: publicBytes });
        const plain = gcm(key, nonce, associatedData(context))
          .decrypt(bytes.subarray(32 + NONCE_BYTES));
        return { text: decoder.decode(plain), senderKey: toBase64Url(sender) };
      } catch {
        return undefined;
      }
    },
  };
}
