/**
 * The client's end of transit sealing (protocol/transit_crypto.ts;
 * protocol/README.md, "Transit sealing"): keyed by the server's `sk` in a
 * welcome, it seals every datagram to the server but `reg` and opens the
 * server's envelopes. Peer-to-peer datagrams are not wrapped. The façade
 * (client/state.ts) opens what arrives before decoding it and seals what
 * leaves after the parts made it; the parts never see an envelope.
 *
 * @module
 */
import { peekType } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { AgreementKey } from "../protocol/e2e_crypto.ts";
import type { ErrMessage } from "../protocol/messages.ts";
import {
  isSealed,
  TRANSIT_NONCE_BYTES,
  type TransitSession,
  transitSession,
} from "../protocol/transit_crypto.ts";

// What the server may still send in clear to a keyed client: the answers to
// `reg` (a new agreement) and errors (a server that lost the session).
const PLAINTEXT_IN: ReadonlySet<string> = new Set(["welcome", "retry", "err"]);

/** What {@linkcode ClientTransit.open} made of a datagram from the server. */
export type ClientOpened =
  | { ok: true; bytes: Uint8Array; sealed: boolean }
  | { ok: false; reason: "sealed" | "plaintext" };

/** The client's transit session with its server, once keyed. */
export class ClientTransit {
  #agreement: AgreementKey | undefined;
  #random: (length: number) => Uint8Array;
  #session: TransitSession | undefined;

  /**
   * @param agreement The client's X25519 key (none: never keyed).
   * @param options Random bytes for the nonces.
   */
  constructor(
    agreement: AgreementKey | undefined,
    options: { random: (length: number) => Uint8Array },
  ) {
    this.#agreement = agreement;
    this.#random = options.random;
  }

  /** Whether a session is keyed. */
  get keyed(): boolean {
    return this.#session !== undefined;
  }

  /**
   * Keys the session with the server's public key from a welcome, or unkeys
   * it when the welcome has none (a server with sealing off).
   *
   * @param serverKey The welcome's `sk`.
   */
  welcome(serverKey: string | undefined): void {
    this.#session = serverKey === undefined || this.#agreement === undefined
      ? undefined
      : transitSession(this.#agreement, { peer: serverKey, role: "client" });
  }

  /** Forgets the session: the server no longer knows it. */
  forget(): void {
    this.#session = undefined;
  }

  /**
   * Opens a datagram as the façade receives it: one from the server as
   * {@linkcode ClientTransit.open} does; one from a peer as it is, unless it
   * is sealed (peers never wrap theirs): dropped `sealed`.
   *
   * @param bytes The datagram's payload.
   * @param options Whether it came from the server's address.
   * @returns The plaintext, or why it is dropped.
   */
  receive(bytes: Uint8Array, options: { fromServer: boolean }): ClientOpened {
    if (options.fromServer) return this.open(bytes);
    return isSealed(bytes)
      ? { ok: false, reason: "sealed" }
      : { ok: true, bytes, sealed: false };
  }

  /**
   * Whether an error from the server says it does not know our session (it
   * restarted): `not_registered` with id 0 (the request it answers was
   * sealed, so it names none) while keyed. If so, the session is forgotten.
   *
   * @param m An `err` from the server.
   * @returns Whether the session was lost.
   */
  lostSession(m: ErrMessage): boolean {
    if (m.id !== 0 || m.code !== "not_registered" || !this.keyed) {
      return false;
    }
    this.forget();
    return true;
  }

  /**
   * Opens a datagram from the server: an envelope with the session; a
   * plaintext one passes only before the session is keyed or when it is a
   * welcome, a cookie challenge or an error.
   *
   * @param bytes The datagram's payload.
   * @returns The plaintext, or why it is dropped.
   */
  open(bytes: Uint8Array): ClientOpened {
    if (!isSealed(bytes)) {
      if (this.#session === undefined) {
        return { ok: true, bytes, sealed: false };
      }
      const type = peekType(bytes);
      return type !== undefined && PLAINTEXT_IN.has(type)
        ? { ok: true, bytes, sealed: false }
        : { ok: false, reason: "plaintext" };
    }
    const plain = this.#session?.open(bytes);
    return plain === undefined
      ? { ok: false, reason: "sealed" }
      : { ok: true, bytes: plain, sealed: true };
  }

  /**
   * Seals the datagrams to the server (all but `reg`), each with a fresh
   * random nonce; others pass as they are.
   *
   * @param datagrams The datagrams, plaintext.
   * @param isServer Whether a datagram goes to the server.
   * @returns The datagrams to send.
   */
  seal(
    datagrams: Datagram[],
    isServer: (d: Datagram) => boolean,
  ): Datagram[] {
    const session = this.#session;
    if (session === undefined) return datagrams;
    return datagrams.map((d) =>
      !isServer(d) || peekType(d.bytes) === "reg" ? d : {
        to: d.to,
        bytes: session.seal(d.bytes, this.#random(TRANSIT_NONCE_BYTES)),
      }
    );
  }
}
