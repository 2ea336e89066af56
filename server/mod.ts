/**
 * The udpchat server core: a sans-I/O state machine ({@linkcode ServerState})
 * with its options, limits, counters, typed events and the interface of its
 * offline store. The words it prints live in `protocol/server_lines.ts`.
 *
 * @example Usage
 * ```ts
 * import { ServerState } from "./mod.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const server = new ServerState({ random: (n) => new Uint8Array(n) });
 * assertEquals(server.stats().users, 0);
 * assertEquals(server.events(), []);
 * ```
 *
 * @module
 */
export { ServerState } from "./state.ts";
export {
  DEFAULT_SERVER_LIMITS,
  type ServerLimits,
  type ServerOptions,
  type StoreMode,
} from "./options.ts";
export type {
  HeldGauges,
  ServerDropReason,
  ServerStats,
  ServerStatsSnapshot,
} from "./stats.ts";
export type {
  DuplicateLoginEvent,
  GroupMessageEvent,
  ServerEvent,
  TableUpdatedEvent,
} from "./events.ts";
export type {
  JournalEntry,
  RestoredState,
  StoredMessage,
  StoreLimits,
  StoreRefusal,
  StoreRequest,
  StoreResult,
  StoreResultFor,
} from "./store.ts";
export { MemoryStore } from "./memory_store.ts";
export {
  type ChatIdentity,
  encodeChatIdentity,
  newChatIdentity,
  parseChatIdentity,
  tableVersionBase,
} from "./chat_identity.ts";
export type {
  HeldClaim,
  HoldOptions,
  UserRecord,
  UserRecordRequest,
  UserRecordResult,
} from "./user_records.ts";
export type { Machine } from "../protocol/machine.ts";
export type { Address } from "../protocol/address.ts";
export type { Datagram } from "../protocol/datagram.ts";
export type { DropReason } from "../protocol/codec.ts";
export type { Row } from "../protocol/messages.ts";
