/**
 * The offline store's interface: what the server core asks of a store and
 * what it learns back. The core never calls a store: it emits
 * {@linkcode StoreRequest}s and takes {@linkcode StoreResult}s as input, so a
 * store across the network (NATS JetStream) plugs in without making the core
 * asynchronous. Messages are keyed by their id, never by object identity.
 *
 * @module
 */

import type { UserRecord } from "./user_records.ts";

/** One message saved for an Offline user. */
export interface StoredMessage {
  /**
   * Unique id of the stored copy, made by the server that saved it
   * (for example `<boot id>-<sequence>`). Deletion goes by this id.
   */
  id: string;
  /** The recipient's name. */
  to: string;
  /** The sender's name. */
  from: string;
  /** Whether it was a group message (`send_all`). */
  group: boolean;
  /** The whole text (at most 16 KiB of UTF-8). */
  text: string;
  /** The sender's message key, for duplicate detection at the recipient. */
  messageKey: string;
  /** Server time stamp when it was saved, `YYYY-MM-DD HH:MM:SS`. */
  savedAt: string;
  /**
   * Whether `text` is sealed to the recipient (protocol/e2e_crypto.ts): the
   * server stores and delivers it as it came, and cannot read it.
   */
  sealed?: boolean;
}

/**
 * A group message the server took and is fanning out (server/journal.ts):
 * written before the sender is ACKed, deleted once every recipient ACKed it
 * or has a stored copy. A server that takes the lead after a crash turns
 * each entry left into stored copies for the recipients that have none.
 * Only with an external (durable) store.
 */
export interface JournalEntry {
  /** Unique id, made by the server that wrote it (`<boot id>-<sequence>`). */
  id: string;
  /** The sender's name. */
  from: string;
  /** The whole text (at most 16 KiB of UTF-8). */
  text: string;
  /** The sender's message key, for duplicate detection at the recipient. */
  messageKey: string;
  /** Server time stamp when the server took it, `YYYY-MM-DD HH:MM:SS`. */
  savedAt: string;
  /** The names of every other user at fan-out time, in table order. */
  recipients: string[];
}

/** What the core asks a store to do. */
export type StoreRequest =
  | {
    /** Save one message; answered by a `save` result. */
    op: "save";
    /** The message, with its id. */
    message: StoredMessage;
  }
  | {
    /** Delete one delivered message; answered by a `delete` result. */
    op: "delete";
    /** The recipient (stores may keep one subject per recipient). */
    to: string;
    /** The stored copy's id. */
    id: string;
  }
  | {
    /** Write one journal entry; answered by a `journal` result. */
    op: "journal";
    /** The entry, with its id. */
    entry: JournalEntry;
  }
  | {
    /** Delete one journal entry; answered by an `unjournal` result. */
    op: "unjournal";
    /** The entry's id. */
    id: string;
  };

/**
 * Why a store refused a save: `full` when a limit of the store refuses it
 * (per recipient, per sender or in total), `unavailable` when the store could
 * not be reached or did not confirm the write.
 */
export type StoreRefusal = "full" | "unavailable";

/** What a store answers, fed back to the core as input. */
export type StoreResult =
  | {
    /** Answer to a `save` request. */
    op: "save";
    /** The message's id. */
    id: string;
    /** The recipient. */
    to: string;
    /** `saved` only once the store has the message (durably, for a durable store). */
    outcome: "saved" | StoreRefusal;
  }
  | {
    /** Answer to a `delete` request. */
    op: "delete";
    /** The message's id. */
    id: string;
    /** The recipient. */
    to: string;
    /** `deleted` (also when it was already gone) or `unavailable`. */
    outcome: "deleted" | "unavailable";
  }
  | {
    /** Answer to a `journal` request. */
    op: "journal";
    /** The entry's id. */
    id: string;
    /** `saved` only once the store has the entry durably; else `unavailable`. */
    outcome: "saved" | "unavailable";
  }
  | {
    /** Answer to an `unjournal` request. */
    op: "unjournal";
    /** The entry's id. */
    id: string;
    /** `deleted` (also when it was already gone) or `unavailable`. */
    outcome: "deleted" | "unavailable";
  };

/**
 * The result that answers a request of type `R`: for a `save` request, a
 * `save` result, and so on (the whole {@linkcode StoreResult} union when the
 * request's kind is not known).
 */
export type StoreResultFor<R extends StoreRequest> = Extract<
  StoreResult,
  { op: R["op"] }
>;

/** Limits of a store: counts of messages, text sizes in UTF-16 code units. */
export interface StoreLimits {
  /** Most messages saved per recipient. */
  perUser: number;
  /** Most text saved per recipient, in UTF-16 code units. */
  bytesPerUser: number;
  /** Most messages saved in total. */
  total: number;
  /** Most text saved in total, in UTF-16 code units. */
  bytesTotal: number;
}

/**
 * What a durable store kept, as a new leader restores it
 * (`ServerState.restore`): stored messages (oldest first per recipient),
 * user records and journal entries (oldest first).
 */
export interface RestoredState {
  /** The stored messages. */
  messages: readonly StoredMessage[];
  /** The user records (server/user_records.ts). */
  users: readonly UserRecord[];
  /** The group messages a dead leader was fanning out (server/journal.ts). */
  journal: readonly JournalEntry[];
}
