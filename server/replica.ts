/**
 * What one client has of the table, as the server's table replication
 * keeps it: the last version it ACKed, the transfer under way, and in a big
 * room the rows it looked up (protocol/README.md, "The table", "Rooms").
 *
 * @module
 */
import type { EncodedRow } from "../protocol/table.ts";
import type { Row } from "../protocol/messages.ts";
import type { User } from "./user.ts";

/** A transfer under way: the parts not yet ACKed, the next to send. */
export interface Transfer {
  /** The table version it brings the client to. */
  version: number;
  /** Parts not yet ACKed. */
  left: number;
  /** Delta base version; undefined for a snapshot. */
  from: number | undefined;
  /** The rows (encoded JSON) of each part. */
  parts: string[][];
  /** The index of the next part to send. */
  next: number;
  /** A summary's looked-up rows, put back as changed if it is lost. */
  watched?: Replica[];
  /** A quiet update: the client applies it without printing (`q: 1`). */
  quiet?: true;
}

/**
 * What one client has of the table. Its own row, encoded once per change,
 * is the replica's `json` and `size` ({@linkcode EncodedRow}): kept on the
 * replica rather than in an object of its own, which would cost every user
 * another object.
 */
export interface Replica extends EncodedRow {
  /** The client. */
  user: User;
  /** The last version it ACKed whole; -1 when it needs a snapshot. */
  ackedVersion: number;
  /** The transfer under way, if any. */
  transfer: Transfer | null;
  /** Transfers in a row that were never ACKed. */
  failures: number;
  /** Big rooms: the users this client looked up, oldest first. */
  watching?: Set<Replica>;
  /** Big rooms: the clients that looked this user up. */
  watchers?: Set<Replica>;
  /** Big rooms: looked-up rows changed and not yet sent. */
  dirty?: Set<Replica>;
  /** Big rooms: its own row changed and was not yet sent to it. */
  selfDirty?: boolean;
  /** It asked for the full table (`sync`) in a room not too big for one. */
  snapshot?: boolean;
}

/**
 * A new user's replica: no version ACKed (a snapshot is due), no transfer,
 * its row not yet encoded.
 */
export function newReplica(user: User): Replica {
  return {
    user,
    ackedVersion: -1,
    transfer: null,
    failures: 0,
    json: "",
    size: 0,
    // Every field set here, so each replica keeps one shape (and no
    // out-of-object property store).
    watching: undefined,
    watchers: undefined,
    dirty: undefined,
    selfDirty: false,
    snapshot: false,
  };
}

/**
 * A user's table row: `[name, ip, port, online]`, then its X25519 key and
 * a 1 for a claimed name (issue 14) when it published a key.
 */
export function rowOf(user: User): Row {
  const row: Row = [
    user.name,
    user.address.hostname,
    user.address.port,
    user.online ? 1 : 0,
  ];
  // The X25519 key, then the claimed flag (issue 14): absent for an old
  // client that published no key.
  if (user.agreementKey !== undefined) {
    row.push(user.agreementKey);
    if (user.claimed === true) row.push(1);
  }
  return row;
}
