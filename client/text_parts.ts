/**
 * A chat message as the parts it travels in: the size checks a message must
 * pass before anything is sent, and its parts under one message key. Used
 * alike for a message to a peer, to the server for a group, or to be saved.
 *
 * @module
 */
import { MAX_PARTS } from "../protocol/constants.ts";
import type { TextPart } from "../protocol/messages.ts";
import { fitsMessageLimit, splitText, utf8Length } from "../protocol/text.ts";
import type { ClientEvent } from "./events.ts";

/** What {@linkcode splitMessage} returns. */
export type SplitResult =
  | { ok: true; parts: string[] }
  | { ok: false; event: ClientEvent };

/**
 * Splits a message into datagram-sized texts, or says why it cannot be sent:
 * over 16 KiB of UTF-8, or more parts than a receiver accepts (control
 * characters such as tabs take 6 bytes each in JSON).
 *
 * @param text The message.
 * @returns The texts, or the event that refuses the message.
 *
 * @example Usage
 * ```ts
 * import { splitMessage } from "./text_parts.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(splitMessage("hi"), { ok: true, parts: ["hi"] });
 * assertEquals(splitMessage("x".repeat(16385)), {
 *   ok: false,
 *   event: { type: "too_long", bytes: 16385 },
 * });
 * ```
 */
export function splitMessage(text: string): SplitResult {
  if (!fitsMessageLimit(text)) {
    return { ok: false, event: { type: "too_long", bytes: utf8Length(text) } };
  }
  const parts = splitText(text);
  if (parts.length > MAX_PARTS) {
    return {
      ok: false,
      event: { type: "too_many_parts", parts: parts.length },
    };
  }
  return { ok: true, parts };
}

/**
 * Numbers the texts of one message as its parts.
 *
 * @param k The message key.
 * @param texts The texts, in order.
 * @returns One part per text: `pi` counts from 0, `pn` is their number.
 *
 * @example Usage
 * ```ts
 * import { toParts } from "./text_parts.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(toParts("k1", ["a", "b"]), [
 *   { k: "k1", pi: 0, pn: 2, text: "a" },
 *   { k: "k1", pi: 1, pn: 2, text: "b" },
 * ]);
 * ```
 */
export function toParts(k: string, texts: readonly string[]): TextPart[] {
  return texts.map((text, pi) => ({ k, pi, pn: texts.length, text }));
}
