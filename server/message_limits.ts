/**
 * What a client takes (issue 13): the limits a whole message must fit for
 * the server to accept it, so that what it accepts it can deliver. The
 * limits themselves are the protocol's (protocol/constants.ts: 16 KiB of
 * UTF-8, 64 parts).
 *
 * @module
 */
import { MAX_MESSAGE_BYTES, MAX_PARTS } from "../protocol/constants.ts";
import { sealedLength } from "../protocol/e2e_crypto.ts";
import { fitsMessageLimit, splitText } from "../protocol/text.ts";

/**
 * Whether a whole message is one a client takes: at most 16 KiB of UTF-8
 * (a sealed one: as long as 16 KiB sealed, see protocol/e2e_crypto.ts) and
 * at most 64 parts as the server splits it for delivery.
 *
 * @param text The whole message.
 * @param options Whether it is sealed to its recipient (private only).
 * @returns Whether the server may accept it.
 *
 * @example Usage
 * ```ts
 * import { deliverable } from "./message_limits.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(deliverable("hello"), true);
 * assertEquals(deliverable("x".repeat(20_000)), false);
 * ```
 */
export function deliverable(
  text: string,
  options: { sealed?: boolean } = {},
): boolean {
  const fits = options.sealed === true
    ? text.length <= sealedLength(MAX_MESSAGE_BYTES)
    : fitsMessageLimit(text);
  return fits && splitText(text).length <= MAX_PARTS;
}
