/**
 * How an event is shown: `>>> ` and the neutralised text (coloured by kind
 * if asked, wrapped at the terminal's width with continuation rows indented),
 * or one JSON object. The client's terminal and the server's console both
 * print through here, so network text reaches every screen the same way.
 *
 * @module
 */
import type { EventKind, OutputEvent } from "../protocol/events.ts";
import { sanitize } from "./sanitize.ts";
export type { EventKind, JsonValue, OutputEvent } from "../protocol/events.ts";
import { wrapText } from "./wrap.ts";

/** The prompt, as the seed prints it. */
export const PROMPT = ">>> ";

/**
 * What begins every row of an event after its first: as wide as the prompt
 * and blank, so no row of one message can pass for the start of another.
 */
export const CONTINUATION = "    ";

const SGR: Record<EventKind, string> = {
  status: "\x1b[36m",
  table: "\x1b[2m",
  incoming: "\x1b[1m",
  own: "\x1b[32m",
  notice: "\x1b[33m",
  error: "\x1b[31m",
};

/** Options for {@linkcode formatRows}. */
export interface FormatOptions {
  /** SGR colours by kind. */
  color?: boolean;
  /** The terminal's width: rows longer than this wrap (default: no wrapping). */
  columns?: number;
}

/**
 * Lays one event out as screen rows: the first starts with `>>> `, every
 * other one with {@linkcode CONTINUATION}. The text is split at its line
 * ends (LF or CRLF; one message may hold several lines), each part is
 * neutralised by `sanitize` and wrapped at `columns`.
 *
 * @param event The event.
 * @param options Colour and width.
 * @returns The rows, without line ends.
 *
 * @example Usage
 * ```ts
 * import { formatRows } from "./output_format.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const e = { kind: "incoming" as const, event: "message", text: "userE: ok\nuserA: hi" };
 * assertEquals(formatRows(e), [">>> userE: ok", "    userA: hi"]);
 * ```
 */
export function formatRows(
  event: OutputEvent,
  options: FormatOptions = {},
): string[] {
  const out: string[] = [];
  const [start, end] = options.color ? [SGR[event.kind], "\x1b[0m"] : ["", ""];
  for (const line of event.text.split(/\r?\n/)) {
    const { rows } = wrapText(sanitize(line), {
      columns: options.columns,
      prompt: out.length === 0 ? PROMPT : CONTINUATION,
      indent: CONTINUATION,
    });
    // A full last row leaves an empty one for the cursor: not needed here.
    if (rows.length > 1 && rows.at(-1)!.text === "") rows.pop();
    for (const row of rows) out.push(`${row.prefix}${start}${row.text}${end}`);
  }
  return out;
}

/**
 * Formats one event: the rows of {@linkcode formatRows} joined by `\n`
 * (one line unless the text holds line ends), or a JSON object with
 * `event`, `kind`, `text` and the event's data, on one line with every
 * control character escaped.
 *
 * @param event The event.
 * @param options `json`: a JSON object; `color`: SGR colours by kind.
 * @returns The line(s), without a final newline.
 *
 * @example Usage
 * ```ts
 * import { formatLine } from "./output_format.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const e = { kind: "incoming" as const, event: "message", text: "userA: hi" };
 * assertEquals(formatLine(e), ">>> userA: hi");
 * assertEquals(formatLine(e, { color: true }), ">>> \x1b[1muserA: hi\x1b[0m");
 * ```
 */
export function formatLine(
  event: OutputEvent,
  options: { json?: boolean; color?: boolean } = {},
): string {
  if (options.json) {
    const { event: name, kind, text, data } = event;
    // The schema version first, when there is one (see jsonEvent).
    const v = data?.v === undefined ? {} : { v: data.v };
    // JSON.stringify leaves DEL, C1 controls and U+2028/9 raw; escape them too.
    return JSON.stringify({ ...v, event: name, kind, text, ...data }).replace(
      /[\x7f-\x9f\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  return formatRows(event, { color: options.color }).join("\n");
}

/**
 * The version of the `--json` line schema, `docs/events.schema.json`: every
 * line carries it as `v`. A change that removes or retypes a field bumps it;
 * new events and new optional fields do not.
 */
export const JSON_SCHEMA_VERSION = 1;

/**
 * Prepares an event for `--json`: adds the schema version `v` and `time`
 * (when the line is printed), and turns the server's time stamps (`at`
 * and `until`, `YYYY-MM-DD HH:MM:SS` in the server's local time) into ISO 8601 with this
 * machine's UTC offset. The protocol carries no offset: the two agree when
 * server and client run in the same time zone.
 *
 * @param event The event, as `describeClientEvent` or
 * `describeServerEvent` made it.
 * @param now When it is printed.
 * @returns The event with those fields in its data; its text is unchanged.
 *
 * @example Usage
 * ```ts
 * import { jsonEvent } from "./output_format.ts";
 * import { assertEquals, assertMatch } from "../tests/_assert.ts";
 * const e = jsonEvent(
 *   { kind: "notice", event: "saved", text: "...", data: { at: "2023-11-09 01:17:25" } },
 *   new Date(),
 * );
 * assertEquals(e.data?.v, 1);
 * assertMatch(String(e.data?.at), /^2023-11-09T01:17:25[+-]\d\d:\d\d$/);
 * ```
 */
export function jsonEvent(event: OutputEvent, now: Date): OutputEvent {
  const data = { ...event.data };
  if (typeof data.at === "string") data.at = isoStamp(data.at);
  if (typeof data.until === "string") data.until = isoStamp(data.until);
  return {
    ...event,
    data: { v: JSON_SCHEMA_VERSION, time: isoLocal(now, true), ...data },
  };
}

// `YYYY-MM-DD HH:MM:SS` (local) as ISO 8601 with the local offset.
function isoStamp(stamp: string): string {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(stamp);
  if (m === null) return stamp;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return isoLocal(new Date(y, mo - 1, d, h, mi, s), false);
}

function isoLocal(date: Date, millis: boolean): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const off = -date.getTimezoneOffset();
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off);
  const ms = millis ? `.${p(date.getMilliseconds(), 3)}` : "";
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${
    p(date.getDate())
  }` +
    `T${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}` +
    `${ms}${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`;
}
