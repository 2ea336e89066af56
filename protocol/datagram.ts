/**
 * A datagram on its way out.
 *
 * @module
 */
import type { Address } from "./address.ts";

/** A datagram for the socket adapter to send. */
export interface Datagram {
  /** Where to send it. */
  to: Address;
  /** The UDP payload. */
  bytes: Uint8Array;
}
