/**
 * The server's end of transit sealing (protocol/transit_crypto.ts;
 * protocol/README.md, "Transit sealing"): one key pair per boot, one session
 * per client address keyed at its welcome, and the envelopes in and out.
 *
 * The parts never see an envelope: the façade (server/state.ts) opens what
 * arrives before decoding it and seals what leaves after the parts made it,
 * so a retransmission is sealed again with a fresh nonce.
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import { peekType } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { AgreementKey } from "../protocol/e2e_crypto.ts";
import type { Message } from "../protocol/messages.ts";
import {
  isSealed,
  NonceCounter,
  serverTransitKey,
  type TransitSession,
  transitSession,
} from "../protocol/transit_crypto.ts";
import type { User } from "./user.ts";

/**
 * Whether the server seals what it exchanges with clients that gave a key:
 * `sealed` (the default), or `clear` (benchmarks only, to measure the cost;
 * the command line has no way to choose it).
 */
export type TransitMode = "sealed" | "clear";

/** The core option of {@linkcode TransitMode}. */
export interface TransitOptions {
  /** `sealed` by default; `clear` only to measure the cost (bench/). */
  transit?: TransitMode;
}

/** What {@linkcode ServerTransit.open} made of a received datagram. */
export type Opened =
  /** Plaintext as received, or the plaintext of an envelope that opened. */
  | { ok: true; bytes: Uint8Array; sealed: boolean }
  /**
   * An envelope that did not open: `unkeyed` when no session is keyed at
   * that address (the client's server restarted, or it moved), `failed` when
   * it is keyed but the envelope is tampered with, truncated or under
   * another key.
   */
  | { ok: false; why: "unkeyed" | "failed" };

// The shortest envelope a restarted server answers (a real one holds at
// least a small JSON request): its answer is then never 3 times larger.
const MIN_ANSWERED_ENVELOPE = 48;

/**
 * The answer to an envelope that did not open (the façade counts it
 * `sealed`), if any: a client still sealing for a session this server does
 * not know (it restarted) is told plainly, `err` `not_registered` with the
 * boot id, so that it registers again. Its request's id is inside the
 * envelope, so the answer names none (id 0). Nothing for a tampered
 * envelope, or one too short to be a request (the amplification guard).
 *
 * @param opened Why the envelope did not open.
 * @param options Its size in bytes, and this server's boot id.
 * @returns The answer, or undefined.
 */
export function unopenedAnswer(
  opened: Opened & { ok: false },
  options: { size: number; boot: string },
): Message | undefined {
  if (opened.why !== "unkeyed" || options.size < MIN_ANSWERED_ENVELOPE) {
    return undefined;
  }
  return { t: "err", id: 0, code: "not_registered", boot: options.boot };
}

// Types that stay plaintext from the server: the answers to `reg` (the
// agreement itself) and errors, which a client may get from a server that
// no longer knows its key.
const PLAINTEXT_OUT: ReadonlySet<string> = new Set(["welcome", "retry", "err"]);
// Distinct client keys kept derived; a client's key is derived once per
// boot, again only after this many others.
const SESSION_CACHE = 4096;

/** Transit keys per client address, and the sealing of datagrams. */
export class ServerTransit {
  #key: AgreementKey | undefined;
  #nonces: NonceCounter;
  #byAddress = new Map<string, { address: Address; session: TransitSession }>();
  #byClientKey = new Map<string, TransitSession>();
  #pruneAt = 1024;

  /**
   * @param seed Secret random bytes of this boot, or of the chat
   * (server/chat_identity.ts): the server's key pair is derived from them.
   * @param options The mode (`clear` keys nothing and seals nothing), and
   * the nonce prefix: the leader's term in a chat whose leaders share the
   * key pair (default 0).
   */
  constructor(
    seed: Uint8Array,
    options: { mode: TransitMode; noncePrefix?: number },
  ) {
    this.#key = options.mode === "sealed" ? serverTransitKey(seed) : undefined;
    this.#nonces = new NonceCounter({ prefix: options.noncePrefix ?? 0 });
  }

  /** The server's public key of this boot (base64url), unless `clear`. */
  get publicKey(): string | undefined {
    return this.#key?.publicKey;
  }

  /** Whether a session is keyed at this address (`addressKey`). */
  keyed(source: string): boolean {
    return this.#byAddress.has(source);
  }

  /**
   * Whether a message that came as it is must be dropped (`plaintext`):
   * from an address with a keyed session only a `reg` (which starts a new
   * session) may come unsealed.
   *
   * @param type The decoded message's `t`.
   * @param opened Whether it came sealed, and its source (`addressKey`).
   */
  refusesPlaintext(
    type: string,
    opened: { sealed: boolean; source: string },
  ): boolean {
    return !opened.sealed && type !== "reg" && this.keyed(opened.source);
  }

  /**
   * Opens a received datagram: an envelope with the session keyed at its
   * source address; a plaintext one is passed on as it is (the façade drops
   * it if it comes from a keyed session and must have been sealed).
   *
   * @param bytes The datagram's payload.
   * @param source Its source address (`addressKey`).
   * @returns The plaintext, or why the envelope did not open.
   */
  open(bytes: Uint8Array, source: string): Opened {
    if (!isSealed(bytes)) return { ok: true, bytes, sealed: false };
    const session = this.#byAddress.get(source);
    if (session === undefined) return { ok: false, why: "unkeyed" };
    const plain = session.session.open(bytes);
    return plain === undefined
      ? { ok: false, why: "failed" }
      : { ok: true, bytes: plain, sealed: true };
  }

  /**
   * Seals the datagrams the parts made, in order: a welcome keys (or
   * unkeys) its address first; then everything but welcomes, cookie
   * challenges and errors to a keyed address is sealed with the next nonce.
   *
   * @param datagrams The datagrams, plaintext.
   * @param userAt The user registered at an address, if any.
   * @returns The datagrams to send.
   */
  seal(
    datagrams: Datagram[],
    userAt: (address: Address) => User | undefined,
  ): Datagram[] {
    if (this.#key === undefined) return datagrams;
    return datagrams.map((d) => {
      const type = peekType(d.bytes);
      const key = addressKey(d.to);
      if (type === "welcome") this.#keyAt(d.to, userAt);
      if (type !== undefined && PLAINTEXT_OUT.has(type)) return d;
      const session = this.#byAddress.get(key)?.session;
      return session === undefined
        ? d
        : { to: d.to, bytes: session.seal(d.bytes, this.#nonces.next()) };
    });
  }

  /**
   * Keys the session of a user a new leader restored Online with its
   * session (server/sessions.ts, `restore`): the same keys its client
   * holds, since every leader of the chat has the same key pair.
   *
   * @param user The restored user, at its address, with its X25519 key.
   */
  restore(user: User): void {
    const session = user.agreementKey === undefined
      ? undefined
      : this.#sessionFor(user.agreementKey);
    if (session !== undefined) {
      this.#byAddress.set(addressKey(user.address), {
        address: user.address,
        session,
      });
    }
  }

  // A welcome to `address`: its session is the welcomed user's key, or none.
  #keyAt(
    address: Address,
    userAt: (address: Address) => User | undefined,
  ): void {
    const key = addressKey(address);
    const clientKey = userAt(address)?.agreementKey;
    const session = clientKey === undefined
      ? undefined
      : this.#sessionFor(clientKey);
    if (session === undefined) {
      this.#byAddress.delete(key);
      return;
    }
    this.#byAddress.set(key, { address, session });
    if (this.#byAddress.size > this.#pruneAt) this.#prune(userAt);
  }

  #sessionFor(clientKey: string): TransitSession | undefined {
    let session = this.#byClientKey.get(clientKey);
    if (session === undefined && this.#key !== undefined) {
      session = transitSession(this.#key, { peer: clientKey, role: "server" });
      if (session === undefined) return undefined;
      if (this.#byClientKey.size >= SESSION_CACHE) this.#byClientKey.clear();
      this.#byClientKey.set(clientKey, session);
    }
    return session;
  }

  // Forgets sessions at addresses where nobody is registered any more;
  // amortized: runs again only when the map doubled.
  #prune(userAt: (address: Address) => User | undefined): void {
    for (const [key, { address }] of [...this.#byAddress]) {
      if (userAt(address) === undefined) this.#byAddress.delete(key);
    }
    this.#pruneAt = Math.max(1024, 2 * this.#byAddress.size);
  }
}
