/**
 * The udpchat client core: a sans-I/O state machine ({@linkcode ClientState})
 * that takes typed commands, datagrams and the time, and gives back
 * datagrams, typed {@linkcode ClientEvent}s (rendered by `protocol/lines.ts`)
 * and its next timer deadline.
 *
 * @example Usage
 * ```ts
 * import { ClientState } from "./mod.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const client = new ClientState({
 *   name: "userA",
 *   server: { hostname: "127.0.0.1", port: 5000 },
 *   random: (n) => new Uint8Array(n),
 * });
 * client.start(0);
 * assertEquals(client.phase, "registering");
 * assertEquals(client.datagramsToSend().length, 1);
 * ```
 *
 * @module
 */
export { ClientState } from "./state.ts";
export type { ClientOptions } from "./context.ts";
export type {
  ClientDropReason,
  ClientEvent,
  ClientEventType,
  ClientExit,
  ClientExitReason,
  ClientPhase,
  Outcomes,
  RefusalCode,
} from "./events.ts";
// Types the public surface refers to.
export type { Address } from "../protocol/address.ts";
export type { DropReason } from "../protocol/codec.ts";
export type { Datagram } from "../protocol/datagram.ts";
export type { Machine } from "../protocol/machine.ts";
export type { Row } from "../protocol/messages.ts";
export {
  type Command,
  COMMAND_NAMES,
  type CommandName,
  parseCommand,
} from "./commands.ts";
