/**
 * udpchat's protocol: what the server and the client share. The wire format
 * (version 1, JSON datagrams of at most 1,200 bytes; see `protocol/README.md`),
 * its strict decoder, the reliability layer (retransmission inside the
 * seed's 500 ms ACK window with the RTO of RFC 6298), duplicate memory,
 * per-sender reassembly, rate limits, address-validation cookies, the
 * envelopes of transit sealing (X25519, HKDF, ChaCha20-Poly1305), the table's
 * encoding and printing, the splitting of text, the machine interface both
 * cores implement, and the words of every line a person reads.
 *
 * Everything here is sans-I/O: no sockets, timers, clocks or consoles.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage, encodeMessage } from "./mod.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const bytes = encodeMessage({ t: "ack", id: 1 });
 * assertEquals(decodeMessage(bytes), { ok: true, message: { t: "ack", id: 1 } });
 * ```
 *
 * @module
 */
export * from "./address.ts";
export * from "./codec.ts";
export * from "./constants.ts";
export * from "./cookie.ts";
export * from "./datagram.ts";
export * from "./dedup.ts";
export * from "./events.ts";
export * from "./machine.ts";
export { type ClaimKey, claimKeyFromSeed } from "./claim.ts";
export {
  type AgreementKey,
  agreementKeyFromSecret,
  type SealContext,
  sealedLength,
} from "./e2e_crypto.ts";
export * from "./messages.ts";
export * from "./rate_limit.ts";
export * from "./reassembly.ts";
export * from "./reliable.ts";
export * from "./shrink.ts";
export * from "./table.ts";
export * from "./text.ts";
export * from "./time.ts";
export * from "./transit_crypto.ts";
