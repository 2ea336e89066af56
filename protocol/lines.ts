/**
 * Every line the client shows a person, in one place: each typed
 * {@linkcode ClientEvent} rendered as the seed's exact text (see the seed
 * spec's transcripts and `SEMANTICS.md`), with its kind, its event name and
 * the fields `--json` prints.
 *
 * @module
 */
import type { ClientEvent } from "../client/events.ts";
import type { CommandName } from "../client/commands.ts";
import {
  MAX_MESSAGE_BYTES,
  MAX_PARTS,
  TABLE_PRINT_LIMIT,
} from "./constants.ts";
import type { JsonValue, OutputEvent } from "./events.ts";
import type { Row } from "./messages.ts";
import { formatTable, summarizeCounts, summarizeTable } from "./table.ts";
import { clockOf } from "./time.ts";

/** Every command with an example, as `help` prints it, in the order it lists them. */
export const COMMAND_HELP: Readonly<Record<CommandName, string>> = {
  send:
    "send NAME MESSAGE   private message, peer to peer   e.g. send userB hi there",
  send_all:
    "send_all MESSAGE    group message through the server  e.g. send_all hello all",
  dereg:
    "dereg NAME          go Offline (your own name)        e.g. dereg userA",
  reg: "reg NAME            come back Online                  e.g. reg userA",
  help: "help                this list",
  exit: "exit                quit without deregistering (as Ctrl+C)",
};

/** How each command is used, as its usage error shows it. */
const USAGE: Readonly<Record<CommandName, string>> = {
  send: "send NAME MESSAGE",
  send_all: "send_all MESSAGE",
  dereg: "dereg NAME",
  reg: "reg NAME",
  help: "help",
  exit: "exit",
};

/**
 * Renders one client event as the line to print.
 *
 * @param event What the client core reported.
 * @returns The line: its kind (for colour), its event name and exact text
 * (without the `>>> ` prompt), the data `--json` adds, and whether it rings
 * the bell.
 *
 * @example Usage
 * ```ts
 * import { describeClientEvent } from "./lines.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(describeClientEvent({ type: "received", by: "userB" }), {
 *   kind: "status",
 *   event: "received",
 *   text: "[Message received by userB.]",
 *   data: { to: "userB" },
 * });
 * ```
 */
export function describeClientEvent(event: ClientEvent): OutputEvent {
  switch (event.type) {
    case "help":
      return status("help", COMMAND_HELP[event.command]);
    case "usage":
      return error("usage", `[Usage: ${USAGE[event.command]}]`);
    case "unknown_command":
      return error(
        "usage",
        `[Unknown command: ${event.word}. Type help for the list.]`,
      );
    case "incorrect_username":
      return error("incorrect_username", "[Incorrect username.]");
    case "offline_hint":
      return error(
        "offline",
        `[You are Offline. Type 'reg ${event.name}' to come back online.]`,
      );
    case "too_long":
      return error(
        "too_long",
        `[Message too long: ${event.bytes} bytes, the limit is ${MAX_MESSAGE_BYTES}. Nothing was sent.]`,
      );
    case "too_many_parts":
      return error(
        "too_long",
        `[Message too long: it needs ${event.parts} datagrams, the limit is ${MAX_PARTS}. Nothing was sent.]`,
      );
    case "welcome":
      return {
        kind: "status",
        event: "welcome",
        text: "[Welcome, You are registered.]",
        data: { name: event.name },
      };
    case "offline":
      return status("offline", "[You are Offline. Bye.]");
    case "rejoin":
      return status(
        "rejoin",
        "[The server marked you Offline; registering again.]",
      );
    case "server_switched":
      return {
        kind: "status",
        event: "server_switched",
        text:
          `[Server ${event.previous} not responding; now using ${event.server}.]`,
        data: { previous: event.previous, server: event.server },
      };
    case "server_restarted":
      return status(
        "server_restarted",
        "[The server restarted; registered again.]",
      );
    case "retrying":
      return {
        kind: "status",
        event: "retrying",
        text: `[Message sent! ${event.attempt} time(s) retrying...]`,
        data: { attempt: event.attempt },
      };
    case "registering":
      return {
        kind: "status",
        event: "registering",
        text:
          `[Registering with ${event.server}: no answer, trying again (${event.attempt} of ${event.of})...]`,
        data: { server: event.server, attempt: event.attempt, of: event.of },
      };
    case "server_not_responding":
      return error("server_not_responding", "[Server not responding.]");
    case "exiting":
      return status("exiting", "[Exiting...]");
    case "name_in_use":
      return {
        kind: "error",
        event: "name_in_use",
        text: `[Username ${event.name} is already in use by another session.]`,
        data: { name: event.name },
      };
    case "name_claimed":
      return {
        kind: "error",
        event: "name_claimed",
        text:
          `[Username ${event.name} is protected by a passphrase: wrong passphrase, or not claimed in this session.]`,
        data: { name: event.name },
      };
    case "key_changed":
      return {
        kind: "error",
        event: "key_changed",
        text:
          `[Warning: the encryption key of ${event.name} changed. Unless ${event.name} claimed the name again, someone may be impersonating them.]`,
        data: { name: event.name },
      };
    case "confusable_name":
      return {
        kind: "error",
        event: "confusable_name",
        text:
          `[Username ${event.name} looks like ${event.like}, already registered: choose another name.]`,
        data: { name: event.name, like: event.like },
      };
    case "server_full":
      return error(
        "full",
        event.request === "registration"
          ? "[Server is full: registration refused.]"
          : "[Server is full: message not sent.]",
      );
    case "too_big":
      return error("too_big", "[Message refused by the server: too long.]");
    case "registration_refused":
      return error(
        event.code,
        `[Registration refused: ${event.code.replace("_", " ")}.]`,
      );
    case "request_refused":
      return error(
        event.code,
        "[Not registered with the server: request refused.]",
      );
    case "table_updated":
      return tableUpdatedLine(event.version);
    case "table":
      return {
        kind: "table",
        event: "table",
        text: event.rows.length <= TABLE_PRINT_LIMIT
          ? formatTable(event.rows)
          : summarizeTable(event.rows, event.changed),
        // Every row while the table is printed whole; the changed ones above.
        data: event.rows.length <= TABLE_PRINT_LIMIT
          ? {
            users: event.rows.length,
            online: event.rows.filter((r) => r[3] === 1).length,
            rows: jsonRows(event.rows),
          }
          : {
            users: event.rows.length,
            online: event.rows.filter((r) => r[3] === 1).length,
            changed: jsonRows(event.changed),
          },
      };
    case "table_summary":
      return {
        kind: "table",
        event: "table",
        text: summarizeCounts(event),
        data: {
          users: event.users,
          online: event.online,
          changed: jsonRows(event.changed),
          more: event.more,
        },
      };
    case "sent":
      return {
        kind: "status",
        event: "sent",
        text: "[Message sent!]",
        data: { to: event.to },
      };
    case "received":
      return {
        kind: "status",
        event: "received",
        text: `[Message received by ${event.by}.]`,
        data: { to: event.by },
      };
    case "group_ack":
      return status("group_ack", "[Group Message received by Server.]");
    case "saved":
      return {
        kind: "notice",
        event: "saved",
        text:
          `[Offline Message sent at ${event.at} received by the server and saved.]`,
        data: { to: event.to, group: false, at: event.at },
      };
    case "no_ack":
      return {
        kind: "notice",
        event: "no_ack",
        text: `[No ACK from ${event.name}, message not delivered.]`,
        data: { to: event.name },
      };
    case "saved_for":
      return {
        kind: "notice",
        event: "saved",
        text: `[Offline Message sent at ${
          clockOf(event.at)
        } received by the server and saved.]`,
        data: { to: event.name, group: true, at: event.at },
      };
    case "delivered_offline":
      return {
        kind: "notice",
        event: "delivered_offline",
        text: `[Offline Message sent at ${
          clockOf(event.at)
        } received by ${event.name}]`,
        data: { to: event.name, at: event.at },
      };
    case "not_saved":
      return {
        kind: "error",
        event: "refused",
        text: event.why === "store_unavailable"
          ? `[Message to ${event.name} not saved: the server cannot reach its store.]`
          : `[Message to ${event.name} not saved: the server's storage is full.]`,
        data: { to: event.name, why: event.why ?? "full" },
      };
    case "save_quota":
      return {
        kind: "error",
        event: "refused",
        text: event.until === undefined
          ? `[Message to ${event.name} not saved: you have reached your hourly limit of saved messages.]`
          : `[Message to ${event.name} not saved: you have reached your hourly limit of saved messages; try again after ${
            clockOf(event.until)
          }.]`,
        data: event.until === undefined
          ? { to: event.name, why: "quota" }
          : { to: event.name, why: "quota", until: event.until },
      };
    case "unknown_user":
      return {
        kind: "error",
        event: "unknown_user",
        text: `[Unknown user ${event.name}.]`,
        data: { to: event.name },
      };
    case "message":
      return {
        kind: event.own ? "own" : "incoming",
        event: "message",
        text: `${event.from}: ${event.message}`,
        data: { from: event.from, message: event.message },
        bell: !event.own,
      };
    case "group_message":
      return {
        kind: "incoming",
        event: "group_message",
        text: `Group Chat ${event.from}: ${event.message}`,
        data: { from: event.from, message: event.message },
      };
    case "offline_messages":
      return {
        kind: "status",
        event: "offline_messages",
        text: "[You have offline messages:]",
        data: { count: event.count },
      };
    case "offline_message": {
      const clock = clockOf(event.at);
      return {
        kind: event.own ? "own" : "incoming",
        event: "offline_message",
        text: event.group
          ? `Group_Chat:${event.from}: ${clock} ${event.message}`
          : `${event.from}: ${clock} ${event.message}`,
        data: {
          from: event.from,
          group: event.group,
          at: event.at,
          message: event.message,
        },
      };
    }
    case "abandoned":
      return {
        kind: "error",
        event: "abandoned",
        text: event.to === null
          ? `[Exiting: group message not sent: ${event.message}]`
          : `[Exiting: message to ${event.to} not confirmed: ${event.message}]`,
        data: { to: event.to, message: event.message },
      };
    case "network_error":
      return error("socket_error", `[Network error: ${event.message}]`);
  }
}

/** Table rows as `--json` prints them: objects with named fields. */
function jsonRows(rows: readonly Row[]): JsonValue[] {
  return rows.map(([name, ip, port, online]) => ({
    name,
    ip,
    port,
    online: online === 1,
  }));
}

/**
 * The seed's `[Client table updated.]`, which server and client both print,
 * with the table version for `--json`.
 *
 * @param version The table version now shown.
 * @returns The line.
 */
export function tableUpdatedLine(version: number): OutputEvent {
  return {
    kind: "status",
    event: "table_updated",
    text: "[Client table updated.]",
    data: { version },
  };
}

function status(event: string, text: string): OutputEvent {
  return { kind: "status", event, text };
}

function error(event: string, text: string): OutputEvent {
  return { kind: "error", event, text };
}
