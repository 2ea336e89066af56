/**
 * What the client core reports: the typed events a person is shown (their
 * words are in `protocol/lines.ts`), the datagrams it drops, what became of
 * the messages it sent, and why it exits.
 *
 * @module
 */
import type { DropReason } from "../protocol/codec.ts";
import type { Row } from "../protocol/messages.ts";
import type { CommandName } from "./commands.ts";

/**
 * Why the server refused a registration or a request, in the words of its
 * `err` codes that end one.
 */
export type RefusalCode =
  | "offline"
  | "not_registered"
  | "bad_name"
  | "store_unavailable";

/**
 * Everything the client shows a person, one event per printed line, as a
 * discriminated union on `type`. `describeClientEvent` in
 * `protocol/lines.ts` renders each as the seed's exact line (see the seed
 * spec's transcripts and `SEMANTICS.md`).
 */
export type ClientEvent =
  // ---- typed commands
  /** One line of `help`: the command and an example. */
  | { type: "help"; command: CommandName }
  /** A command with missing or extra arguments. */
  | { type: "usage"; command: CommandName }
  /** A first word that is no command. */
  | { type: "unknown_command"; word: string }
  /** `dereg` or `reg` with a name that is not this user's. */
  | { type: "incorrect_username" }
  /** A command other than `reg` while Offline; `name` is this user's. */
  | { type: "offline_hint"; name: string }
  /** A message over 16,384 bytes of UTF-8: nothing was sent. */
  | { type: "too_long"; bytes: number }
  /** A message that needs more datagrams than a receiver accepts. */
  | { type: "too_many_parts"; parts: number }
  // ---- registration and the server
  /** The first registration was accepted. */
  | { type: "welcome"; name: string }
  /** `dereg` done (or typed again while Offline). */
  | { type: "offline" }
  /** The server marked this client Offline while it is here: it registers again. */
  | { type: "rejoin" }
  /**
   * The server restarted (or, restarted, no longer knew this session): the
   * client registered again by itself and sends again what was waiting.
   */
  | { type: "server_restarted" }
  /**
   * The server stopped answering and the client moved to the next one given
   * with `--failover` (`host:port` each), keeping its session.
   */
  | { type: "server_switched"; previous: string; server: string }
  /** A request to the server got no ACK in 500 ms; `attempt` counts 1 to 5. */
  | { type: "retrying"; attempt: number }
  /**
   * A registration this client sent by itself (at start, or to rejoin) got
   * no answer in 500 ms: it tries again, `attempt` of `of`. `server` is
   * where it goes, as `HOST:PORT` (`[HOST]:PORT` for IPv6).
   */
  | { type: "registering"; server: string; attempt: number; of: number }
  /** The fifth retry went unanswered. */
  | { type: "server_not_responding" }
  /** The client exits (after `server_not_responding`). */
  | { type: "exiting" }
  /** The name is Online in another session that still answers. */
  | { type: "name_in_use"; name: string }
  /** The server refused this client's new name: it looks like `like`, registered. */
  | { type: "confusable_name"; name: string; like: string }
  /** The server refused this client's name: claimed, and not proven by this session. */
  | { type: "name_claimed"; name: string }
  /**
   * A claimed peer's X25519 key changed (issue 14): the server refuses that
   * without a new claim, so it was claimed anew or someone is impersonating
   * it. Private messages to it now go to the new key.
   */
  | { type: "key_changed"; name: string }
  /** A server limit refused a registration or a message. */
  | { type: "server_full"; request: "registration" | "message" }
  /** The server refused a message part as too long. */
  | { type: "too_big" }
  /** The server refused the registration. */
  | { type: "registration_refused"; code: RefusalCode }
  /** The server refused a request because this client is not registered. */
  | { type: "request_refused"; code: RefusalCode }
  // ---- the table
  /** A new table version arrived; `version` is the server's. */
  | { type: "table_updated"; version: number }
  /**
   * The table, in registration order, and the rows this update changed
   * (all of them for a snapshot). Both are copies, safe to keep.
   */
  | { type: "table"; rows: readonly Row[]; changed: readonly Row[] }
  /**
   * A big room's table as a summary (the client holds no rows): the counts,
   * the first changed rows (at most five), how many more changed, and
   * whether everything was new to this client.
   */
  | {
    type: "table_summary";
    users: number;
    online: number;
    changed: readonly Row[];
    more: number;
    full: boolean;
  }
  // ---- what became of a message this user sent
  /** A private message went to its recipient (or through the server to an Online one). */
  | { type: "sent"; to: string }
  /** The recipient ACKed it (directly, or through the server). */
  | { type: "received"; by: string }
  /** The server ACKed the last part of a group message. */
  | { type: "group_ack" }
  /**
   * A private message to `to` was saved for an Offline user; `at` is
   * `YYYY-MM-DD HH:MM:SS`.
   */
  | { type: "saved"; at: string; to: string }
  /** A group message's recipient was Offline or did not ACK. */
  | { type: "no_ack"; name: string }
  /** ... so it was saved for them; `at` is `YYYY-MM-DD HH:MM:SS`, shown as `HH:MM:SS`. */
  | { type: "saved_for"; name: string; at: string }
  /** A saved message reached its recipient; `at` is when it was saved. */
  | { type: "delivered_offline"; name: string; at: string }
  /** A group message could not be saved for an Offline user: storage full. */
  | {
    type: "not_saved";
    name: string;
    /** The store is full (the default), or the server cannot reach it. */
    why?: "full" | "store_unavailable";
  }
  /**
   * A private message for Offline `name` was not saved: this sender (or its
   * host) has had as many messages saved this hour as the server allows.
   * `until`, when the server said, is when that limit starts again
   * (`YYYY-MM-DD HH:MM:SS`, the server's time), shown as `HH:MM:SS`.
   */
  | { type: "save_quota"; name: string; until?: string }
  /** A message to a user the server does not know (or a name that cannot be one). */
  | { type: "unknown_user"; name: string }
  /**
   * The client exits (`exit`, Ctrl+C) while this message's fate is unknown:
   * a group message (`to` null) the server has not ACKed, or a private
   * message to `to` that no one has ACKed or saved.
   */
  | { type: "abandoned"; to: string | null; message: string }
  // ---- messages to this user
  /** A private message; `own` when this user sent it to itself. */
  | { type: "message"; from: string; message: string; own: boolean }
  /** A group message from another user. */
  | { type: "group_message"; from: string; message: string }
  /** The header of the offline list after `reg`; `count` entries were announced. */
  | { type: "offline_messages"; count: number }
  /** One entry of the offline list; `at` is when the server saved it. */
  | {
    type: "offline_message";
    from: string;
    group: boolean;
    at: string;
    message: string;
    own: boolean;
  }
  // ---- the adapter
  /** The socket failed (reported by the adapter, not the core). */
  | { type: "network_error"; message: string };

/** The `type` of every {@linkcode ClientEvent}. */
export type ClientEventType = ClientEvent["type"];

/**
 * Why the client decided to exit. The adapter maps it to an exit status.
 *
 * - `done`: the `exit` command (or Ctrl+C).
 * - `name_in_use`: the name is Online in another session.
 * - `server_not_responding`: a request went unanswered through its retries.
 * - `registration_refused`: the server refused the registration (full, or a
 *   bad name).
 */
export type ClientExitReason =
  | "done"
  | "name_in_use"
  | "server_not_responding"
  | "registration_refused";

/** The client's decision to exit. */
export interface ClientExit {
  /** Always `"exit"`. */
  type: "exit";
  /** Why. */
  reason: ClientExitReason;
}

/**
 * Why the client dropped a datagram: the codec's reasons, and the client's
 * own.
 *
 * - `rate`: a peer over its rate.
 * - `not_server`: a message only the server may send, from elsewhere.
 * - `offline`: a table, notice or chat message while Offline.
 * - `duplicate`: seen before (it was ACKed again).
 * - `unexpected`: valid, but not an answer to what is under way.
 * - `stray_ack`: an ACK for nothing pending, or from the wrong address.
 * - `stray_response`: a `retry`, `welcome` or `err` for no request under way.
 * - `impersonation`: a peer message from an address its sender does not have.
 */
export type ClientDropReason =
  | DropReason
  | "rate"
  | "not_server"
  | "offline"
  | "duplicate"
  | "unexpected"
  | "stray_ack"
  | "stray_response"
  | "impersonation"
  /**
   * A sealed private message that did not open: tampered with, sealed to
   * another key (an earlier session's), bound to another sender, recipient
   * or key, or from a key other than the sender's row gives.
   */
  | "decrypt_failed";

/** Where the client is in its life. */
export type ClientPhase = "registering" | "online" | "offline" | "exited";

/** What became of the messages this client sent, for `--exec` exit codes. */
export interface Outcomes {
  /** Messages ACKed by their recipient (or, for a group message, by the server). */
  delivered: number;
  /** Messages saved by the server for an Offline recipient. */
  saved: number;
  /** Messages refused: unknown user, too long, or a full server. */
  refused: number;
}
