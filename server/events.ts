/**
 * What the server core reports: typed events, no words. The lines a person
 * reads are made from them by `describeServerEvent` in
 * `protocol/server_lines.ts`.
 *
 * @module
 */

/**
 * A name that is Online was registered again from another address (the
 * server then checks whether the old session still answers).
 */
export interface DuplicateLoginEvent {
  /** The event's type. */
  type: "duplicate_login";
  /** The name claimed twice. */
  name: string;
}

/** A group message (`send_all`) was accepted for relaying to every other user. */
export interface GroupMessageEvent {
  /** The event's type. */
  type: "group_message";
  /** The sender's name. */
  from: string;
  /** The whole text, reassembled. */
  text: string;
}

/** The user table changed (a registration, or a user went Offline). */
export interface TableUpdatedEvent {
  /** The event's type. */
  type: "table_updated";
  /** The table's new version. */
  version: number;
}

/** Every event the server core emits. */
export type ServerEvent =
  | DuplicateLoginEvent
  | GroupMessageEvent
  | TableUpdatedEvent;
