/**
 * Encoding of udpchat messages as datagrams (protocol/README.md): UTF-8
 * JSON, `v` then `t` first, and the type read back from a datagram's first
 * bytes without decoding it. The strict decoder is in
 * `codec.ts`, which re-exports these.
 *
 * @module
 */
import { PROTOCOL_VERSION } from "./constants.ts";
import type { Message } from "./messages.ts";

const encoder = new TextEncoder();

/**
 * Encodes a message as one datagram.
 *
 * @param message The message to encode.
 * @returns The UTF-8 JSON bytes, with the protocol version added.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage } from "./codec.ts";
 * import { encodeMessage } from "./encoding.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const bytes = encodeMessage({ t: "ack", id: 7 });
 * assertEquals(decodeMessage(bytes), { ok: true, message: { t: "ack", id: 7 } });
 * ```
 */
export function encodeMessage(message: Message): Uint8Array {
  // `v` then `t` first, always: {@linkcode peekType} reads the type there.
  const { t, ...fields } = message;
  return encoder.encode(JSON.stringify({ v: PROTOCOL_VERSION, t, ...fields }));
}

const TYPE_PREFIX = encoder.encode(`{"v":${PROTOCOL_VERSION},"t":"`);

/**
 * The type of a datagram made by {@linkcode encodeMessage}, read from its
 * first bytes without decoding it (the transit layer uses it to tell the
 * datagrams that stay plaintext). Not a validation: decode what you act on.
 *
 * @param bytes A datagram's payload.
 * @returns Its `t`, or undefined when it does not start as encoded ones do.
 *
 * @example Usage
 * ```ts
 * import { encodeMessage, peekType } from "./encoding.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(peekType(encodeMessage({ t: "ack", id: 7 })), "ack");
 * assertEquals(peekType(new Uint8Array([1, 2, 3])), undefined);
 * ```
 */
export function peekType(bytes: Uint8Array): string | undefined {
  const n = TYPE_PREFIX.length;
  if (bytes.length <= n) return undefined;
  for (let i = 0; i < n; i++) if (bytes[i] !== TYPE_PREFIX[i]) return undefined;
  // 0x22 is the closing quote; the longest type name is 7 bytes.
  const end = bytes.subarray(n, n + 9).indexOf(0x22);
  return end < 1
    ? undefined
    : String.fromCharCode(...bytes.subarray(n, n + end));
}
