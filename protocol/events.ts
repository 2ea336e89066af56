/**
 * What a state machine (server or client) asks its terminal to show.
 *
 * @module
 */

/**
 * The kind of an output line, used for colour and for `--json` output.
 *
 * - `status`: the seed's bracketed status lines (welcome, table updated, sent, received).
 * - `table`: the printed table (a Python-style dict, or a summary for big tables).
 * - `incoming`: a message from another user (private, group or offline list).
 * - `own`: a message this user sent to itself.
 * - `notice`: what became of a message this user sent (saved, delivered, no ACK).
 * - `error`: something the user did or asked for failed.
 */
export type EventKind =
  | "status"
  | "table"
  | "incoming"
  | "own"
  | "notice"
  | "error";

/** A value `--json` can print: what `JSON.stringify` writes as is. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** One line of output, with the seed's exact text (without the `>>> ` prompt). */
export interface OutputEvent {
  /** What kind of line this is. */
  kind: EventKind;
  /** Short machine-readable name of the event, e.g. `"welcome"` or `"message"`. */
  event: string;
  /** The exact text to print after `>>> `. */
  text: string;
  /** Structured fields for `--json` output. */
  data?: Record<string, JsonValue>;
  /** Whether this line should ring the terminal bell (an incoming private message). */
  bell?: boolean;
}
