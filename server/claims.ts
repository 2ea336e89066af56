/**
 * Claimed names (issue 14): the Ed25519 public key bound to each claimed
 * name, and the single-use challenges a claimed registration signs. See
 * protocol/claim.ts for what is signed and protocol/README.md, "Claimed
 * names", for the exchange.
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import {
  deregPayload,
  regPayload,
  toBase64Url,
  verifySignature,
} from "../protocol/claim.ts";
import type { RegMessage } from "../protocol/messages.ts";

/** How long a challenge may be answered, in ms. */
export const CHALLENGE_TTL_MS = 30_000;
/** Most challenges outstanding at once; the oldest goes first beyond it. */
export const MAX_CHALLENGES = 10_000;

/**
 * What a claimed (or claiming) `reg` proves:
 * - `unclaimed`: no key, for a name nobody claimed (today's rules);
 * - `challenge`: a key but no valid fresh challenge: answer `retry` with one;
 * - `refused`: the name is claimed and this does not prove it;
 * - `proven`: a valid signature by the name's key (or, for a first claim, by
 *   the key it brings) over a challenge this server issued to this address.
 */
export type ClaimCheck =
  | { kind: "unclaimed" }
  | { kind: "challenge" }
  | { kind: "refused"; why: "no_key" | "other_key" | "bad_signature" }
  | { kind: "proven"; publicKey: string };

/** Bound keys and outstanding challenges. */
export class Claims {
  #keys = new Map<string, string>();
  // A claimed name's X25519 key, bound with its claim: it changes only with
  // a new claim (after the name was forgotten).
  #agreementKeys = new Map<string, string>();
  // Challenge → the address and name it was issued to, and when.
  #challenges = new Map<string, { to: string; name: string; at: number }>();
  #random: (length: number) => Uint8Array;

  /** @param random Random bytes, for challenges. */
  constructor(random: (length: number) => Uint8Array) {
    this.#random = random;
  }

  /** The public key bound to a name, if it is claimed. */
  keyOf(name: string): string | undefined {
    return this.#keys.get(name);
  }

  /** How many names are claimed. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Binds a key to a name (the first claim, once proven), with its X25519
   * key when the registration brought one.
   */
  bind(name: string, publicKey: string, agreementKey?: string): void {
    if (!this.#keys.has(name)) {
      this.#keys.set(name, publicKey);
      if (agreementKey !== undefined) {
        this.#agreementKeys.set(name, agreementKey);
      }
    }
  }

  /** The X25519 key bound to a claimed name, if any. */
  agreementKeyOf(name: string): string | undefined {
    return this.#agreementKeys.get(name);
  }

  /** Forgets a name's claim (the name itself is forgotten). */
  forget(name: string): void {
    this.#keys.delete(name);
    this.#agreementKeys.delete(name);
  }

  /**
   * A fresh single-use challenge for a registration of `name` from `to`.
   *
   * @param request Where the `reg` came from and the name it asks for.
   * @param now The current time (ms).
   * @returns The challenge, 22 base64url characters.
   */
  challenge(request: { to: Address; name: string }, now: number): string {
    this.#purge(now);
    while (this.#challenges.size >= MAX_CHALLENGES) {
      const oldest = this.#challenges.keys().next().value;
      if (oldest === undefined) break;
      this.#challenges.delete(oldest);
    }
    const ch = toBase64Url(this.#random(16));
    this.#challenges.set(ch, {
      to: addressKey(request.to),
      name: request.name,
      at: now,
    });
    return ch;
  }

  /**
   * Checks a `reg`: its key against the name's, its challenge (used up here,
   * whatever the outcome) and its signature.
   *
   * @param reg The registration and where it came from.
   * @param now The current time (ms).
   * @returns What it proves.
   */
  check(reg: { message: RegMessage; from: Address }, now: number): ClaimCheck {
    const { message: m, from } = reg;
    const bound = this.#keys.get(m.name);
    if (m.pk === undefined) {
      return bound === undefined
        ? { kind: "unclaimed" }
        : { kind: "refused", why: "no_key" };
    }
    if (bound !== undefined && bound !== m.pk) {
      return { kind: "refused", why: "other_key" };
    }
    // A claimed name's X25519 key changes only with a new claim.
    const agreement = this.#agreementKeys.get(m.name);
    if (bound !== undefined && agreement !== undefined && agreement !== m.xk) {
      return { kind: "refused", why: "other_key" };
    }
    if (m.ch === undefined || m.sig === undefined) return { kind: "challenge" };
    this.#purge(now);
    const issued = this.#challenges.get(m.ch);
    if (
      issued === undefined || issued.to !== addressKey(from) ||
      issued.name !== m.name
    ) {
      // Stale, replayed, or issued to another address or name.
      return { kind: "challenge" };
    }
    this.#challenges.delete(m.ch);
    const payload = regPayload({
      name: m.name,
      ch: m.ch,
      pk: m.pk,
      ...(m.xk === undefined ? {} : { xk: m.xk }),
    });
    return verifySignature({ pk: m.pk, sig: m.sig, payload })
      ? { kind: "proven", publicKey: m.pk }
      : { kind: "refused", why: "bad_signature" };
  }

  /**
   * Whether a `dereg` of a name proves it: unclaimed names need nothing; a
   * claimed one a signature over its session token and the request id.
   */
  deregAllowed(
    dereg: { name: string; tok: string; id: number; sig?: string },
  ): boolean {
    const pk = this.#keys.get(dereg.name);
    if (pk === undefined) return true;
    if (dereg.sig === undefined) return false;
    return verifySignature({
      pk,
      sig: dereg.sig,
      payload: deregPayload(dereg),
    });
  }

  #purge(now: number): void {
    for (const [ch, issued] of this.#challenges) {
      if (now - issued.at < CHALLENGE_TTL_MS) break;
      this.#challenges.delete(ch);
    }
  }
}
