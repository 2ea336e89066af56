/**
 * The wire messages of udpchat protocol version 1. See `protocol/README.md`.
 *
 * @module
 */

/**
 * One row of the user table: name, IP address, port, 1 when Online; then,
 * when the user published one, its X25519 public key (base64url, 43
 * characters; see protocol/e2e_crypto.ts), and 1 when the name is claimed.
 */
export type Row = [
  name: string,
  ip: string,
  port: number,
  online: 0 | 1,
  key?: string,
  claimed?: 1,
];

/** One stored message as it travels in an offline delivery. */
export interface TextPart {
  /** Message key, unique per origin: used to reassemble parts and drop duplicates. */
  k: string;
  /** Part index, 0-based. */
  pi: number;
  /** Part count, at least 1. */
  pn: number;
  /** This part's text. */
  text: string;
  /**
   * 1 when the text (all parts joined) is a private message sealed to its
   * recipient's X25519 key (protocol/e2e_crypto.ts); never on group messages.
   */
  e?: 1;
}

/** Client to server: register or re-register a name. */
export interface RegMessage {
  /** The message type. */
  t: "reg";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** A user name (1 to 32 letters, digits, `_`, `.` or `-`). */
  name: string;
  /** Address-validation cookie from a `retry`. */
  ck?: string;
  /** Session token from an earlier `welcome`. */
  tok?: string;
  /**
   * 1 for a transient session (`--exec`): when it leaves (`dereg`, or it
   * stops answering) the server removes its row instead of keeping it
   * Offline, and stores nothing for it.
   */
  transient?: 1;
  /** Claimed names: the Ed25519 public key, base64url (see protocol/claim.ts). */
  pk?: string;
  /** Claimed names: the challenge from the server's `retry`, echoed. */
  ch?: string;
  /** Claimed names: the Ed25519 signature of `regPayload`, base64url. */
  sig?: string;
  /**
   * The client's X25519 public key, base64url (protocol/e2e_crypto.ts):
   * published in its table row; private messages are sealed to it.
   */
  xk?: string;
}

/** Client to server: go Offline. */
export interface DeregMessage {
  /** The message type. */
  t: "dereg";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** A user name (1 to 32 letters, digits, `_`, `.` or `-`). */
  name: string;
  /** The session token from the welcome. */
  tok: string;
  /** Claimed names: the Ed25519 signature of `deregPayload`, base64url. */
  sig?: string;
}

/** Client to server: one part of a group message. */
export interface AllMessage extends TextPart {
  /** The message type. */
  t: "all";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The session token from the welcome. */
  tok: string;
}

/** Client to server: one part of a private message for the server to deliver or save. */
export interface SaveMessage extends TextPart {
  /** The message type. */
  t: "save";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The session token from the welcome. */
  tok: string;
  /** The recipient's name. */
  to: string;
}

/**
 * Client to server: a keepalive, sent every 15 to 25 s while the client has
 * nothing else for the server. It keeps NAT mappings open and lets the client
 * learn within one interval that the server restarted (another `boot` in the
 * answer) or forgot it (`not_registered`) or marked it Offline (`offline`).
 * Answered by an `ack` carrying `boot`, smaller than the keepalive itself.
 */
export interface KeepaliveMessage {
  /** The message type. */
  t: "ka";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The session token from the welcome. */
  tok: string;
}

/** Client to server: ask for a full table snapshot. */
export interface SyncMessage {
  /** The message type. */
  t: "sync";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The session token from the welcome. */
  tok: string;
}

/**
 * Client to server, in rooms of more than `TABLE_PRINT_LIMIT` users (where the
 * client holds a summary, not the table): the row of one user. Answered by an
 * `ack` whose `rows` hold that row, or `err unknown_user`; the server then
 * keeps that row fresh for the client (see `protocol/README.md`, "Rooms").
 */
export interface WhoMessage {
  /** The message type. */
  t: "who";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The session token from the welcome. */
  tok: string;
  /** The user looked up. */
  name: string;
}

/** What an ACK may say besides "this datagram arrived". */
export type AckResult = "saved" | "pending" | "held";

/** Acknowledgement of the datagram with the same id; may carry a result. */
export interface AckMessage {
  /** The message type. */
  t: "ack";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** Answer to a `who`: the row looked up (exactly one). */
  rows?: Row[];
  /**
   * Result: of a `save`, saved now or pending while the server tries to
   * deliver; of a chat part (`msg`), `held`: the part arrived but its
   * message was not shown (it waits for other parts, or was refused), so
   * this ACK is not the ACK of the message. An ACK of a part without `r`
   * says the whole message was shown (see protocol/README.md, "Received
   * means shown").
   */
  r?: AckResult;
  /** Server time stamp `YYYY-MM-DD HH:MM:SS`. */
  at?: string;
  /** The server instance's boot id (answers to `ka`): changes on every restart. */
  boot?: string;
}

/** Server to client: prove you can receive at your address; resend `reg` with this cookie. */
export interface RetryMessage {
  /** The message type. */
  t: "retry";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The address-validation cookie to echo in the next `reg`. */
  ck: string;
  /** A fresh single-use challenge, for a claimed registration to sign. */
  ch?: string;
}

/** Server to client: registration accepted. */
export interface WelcomeMessage {
  /** The message type. */
  t: "welcome";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The session token from the welcome. */
  tok: string;
  /** Number of stored messages that will follow. */
  off: number;
  /** The offline-list index (`o`) of the first of them; later ones count up. */
  o0?: number;
  /** The server instance's boot id: changes on every restart of the server. */
  boot?: string;
  /**
   * The server's X25519 public key of this boot (base64url), sent to a
   * client that gave `xk`: what follows travels sealed under the keys both
   * derive (protocol/transit_crypto.ts).
   */
  sk?: string;
}

/** Why the server refused a request. */
export type ErrorCode =
  | "bad_name"
  | "name_in_use"
  | "not_registered"
  | "unknown_user"
  | "full"
  | "too_big"
  | "offline"
  | "store_unavailable"
  /**
   * A private message for an Offline user not saved: its sender (or the
   * sender's host) has had as many messages saved this hour as the server
   * allows (`server/save_quota.ts`). `name` is the recipient, `at` when the
   * quota that refused it starts again. Not `full`: the store has room.
   */
  | "quota"
  /** A new name that looks like a registered one (UTS #39 skeleton); `name` is that one. */
  | "confusable"
  /**
   * The name is claimed and the registration (or `dereg`) did not prove it:
   * no key, another key, or a bad or stale signature. Says nothing more.
   */
  | "claimed";

/** Server to client: the request with this id was refused. */
export interface ErrMessage {
  /** The message type. */
  t: "err";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** Why the request was refused. */
  code: ErrorCode;
  /** The name the error is about, when there is one. */
  name?: string;
  /** The server instance's boot id, so a client can tell a restart from a refusal. */
  boot?: string;
  /**
   * For `quota`: when the quota that refused the request starts again, a
   * server time stamp `YYYY-MM-DD HH:MM:SS` (the server's local time).
   */
  at?: string;
}

/**
 * Server to client: one part of a table snapshot (no `from`) or of a delta
 * (with `from`: the rows changed since that version). `i`/`n` number the
 * parts; a one-datagram delta may leave them out.
 */
export interface TableMessage {
  /** The message type. */
  t: "tbl";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The table version. */
  ver: number;
  /** Delta base version; absent for a snapshot part. */
  from?: number;
  /** Snapshot part index. */
  i?: number;
  /** Snapshot part count. */
  n?: number;
  /**
   * 1: a quiet update, applied without printing: it changes no printed
   * field (a client that logged in again from the same address brings a
   * new key; the seed's transcript, test case 6, prints nothing for it).
   */
  q?: 1;
  /** Table rows, in registration order. */
  rows: Row[];
}

/**
 * Server to client, in rooms of more than `TABLE_PRINT_LIMIT` users: the
 * table's summary instead of its rows. Printed as the one-line summary a big
 * table gets; `w` brings the rows this client looked up that changed.
 */
export interface SummaryMessage {
  /** The message type. */
  t: "sum";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** Table version. */
  ver: number;
  /** Users in the table. */
  u: number;
  /** Users Online. */
  on: number;
  /** 1 when everything is new to this client (it prints "full table"). */
  full?: 0 | 1;
  /** The first (at most 5) rows changed since the client's last summary, in registration order. */
  rows: Row[];
  /** How many more rows changed than `rows` lists. */
  more?: number;
  /** Rows this client looked up (or its own) that changed: kept fresh. */
  w?: Row[];
  /** 1: a quiet update, applied and not printed (`TableMessage.q`). */
  q?: 1;
}

/** A chat message part, peer to peer or relayed by the server. */
export interface ChatMessage extends TextPart {
  /** The message type. */
  t: "msg";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** The sender's name. */
  from: string;
  /** 1 for a group message. */
  g: 0 | 1;
  /** Offline delivery: server time stamp of when it was saved. */
  at?: string;
  /** Offline delivery: 1-based position in the offline list. */
  o?: number;
}

/** Kinds of notice the server sends to a sender about its message. */
export type NoteKind =
  | "noack"
  | "dlv"
  | "rcv"
  | "saved"
  | "refused"
  | "done";

/** Server to client: what became of a message this client sent. */
export interface NoteMessage {
  /** The message type. */
  t: "note";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
  /** What became of the message. */
  k: NoteKind;
  /** The recipient the notice is about. */
  name: string;
  /** Key of the message the notice is about. */
  ref: string;
  /** Server time stamp `YYYY-MM-DD HH:MM:SS`. */
  at?: string;
  /**
   * Why a `refused` message was not saved: the store is full (the default
   * when absent) or the server cannot reach its store.
   */
  why?: "full" | "store_unavailable";
}

/** Server to client: are you still there? Answered with an `ack`. */
export interface PingMessage {
  /** The message type. */
  t: "ping";
  /** The datagram id: an ACK or answer names it (protocol/README.md, "Fields"). */
  id: number;
}

/** Every message of protocol version 1. */
export type Message =
  | RegMessage
  | DeregMessage
  | AllMessage
  | SaveMessage
  | SyncMessage
  | KeepaliveMessage
  | WhoMessage
  | AckMessage
  | RetryMessage
  | WelcomeMessage
  | ErrMessage
  | TableMessage
  | SummaryMessage
  | ChatMessage
  | NoteMessage
  | PingMessage;

/** The `t` of every message type. */
export type MessageType = Message["t"];
