/**
 * The words of the server: every line the server prints, made from a typed
 * event. The server core emits {@linkcode ServerEvent}s; its adapter adds
 * the console's own ({@linkcode ServerConsoleEvent}: online, stats, an
 * unknown command, a fatal error). The seed's lines are byte-exact
 * (`[Server is online...]`, `[Client table updated.]`,
 * `[Client NAME sent group message: TEXT ]`).
 *
 * @module
 */
import type { ServerEvent } from "../server/events.ts";
import type { HeldGauges, ServerStatsSnapshot } from "../server/stats.ts";
import type { OutputEvent } from "./events.ts";
import { tableUpdatedLine } from "./lines.ts";

/** Events of the server's console, made by its adapter rather than the core. */
export type ServerConsoleEvent =
  | {
    /** The server is listening. */
    type: "online";
    /** The UDP port it listens on. */
    port: number;
  }
  | {
    /** The `stats` command (or SIGUSR1). */
    type: "stats";
    /** The counters and gauges. */
    stats: ServerStatsSnapshot;
  }
  | {
    /** A line on stdin that is no server command. */
    type: "unknown_command";
    /** The line, trimmed. */
    command: string;
  }
  | {
    /** The socket failed and the server stops. */
    type: "server_error";
    /** What failed. */
    message: string;
  }
  | {
    /**
     * This node of a NATS-backed chat (`--store nats://...`) now leads (it
     * runs the chat's core, with the stored messages restored) or follows
     * (it forwards to the leading node).
     */
    type: "cluster_node";
    /** This node's id. */
    node: string;
    /**
     * Leading, following, or `loading`: holding the lead but unable to read
     * the store yet (it serves nobody until it has, rather than forget
     * users, claimed names and stored messages).
     */
    role: "leading" | "following" | "loading";
    /** Stored messages restored, when leading. */
    restored?: number;
    /** Sessions kept from the last leader, when leading (issue 10). */
    sessions?: number;
    /** Messages in flight recovered from the journal, when leading. */
    inFlight?: number;
  }
  | {
    /** The `stats` command on a following node. */
    type: "node_stats";
    /** This node's id. */
    node: string;
    /** Datagrams forwarded to the leading node. */
    forwarded: number;
    /** Datagrams sent for the leading node. */
    relayed: number;
  }
  | {
    /** The connection to the store is lost: saves are refused until it is back. */
    type: "store_unavailable";
  }
  | {
    /** The connection to the store is back. */
    type: "store_available";
  };

/**
 * The line a server event prints, with its kind, event name and `--json`
 * fields.
 *
 * @param event A core or console event.
 * @returns The line (its text without the `>>> ` prompt).
 *
 * @example Usage
 * ```ts
 * import { describeServerEvent } from "./server_lines.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(
 *   describeServerEvent({ type: "table_updated", version: 3 }).text,
 *   "[Client table updated.]",
 * );
 * ```
 */
export function describeServerEvent(
  event: ServerEvent | ServerConsoleEvent,
): OutputEvent {
  switch (event.type) {
    case "duplicate_login":
      return {
        kind: "status",
        event: "duplicate_login",
        text: "[Duplicate login detected.]",
        data: { name: event.name },
      };
    case "group_message":
      return {
        kind: "status",
        event: "group_message",
        text: `[Client ${event.from} sent group message: ${event.text} ]`,
        data: { from: event.from, message: event.text },
      };
    case "table_updated":
      return tableUpdatedLine(event.version);
    case "online":
      return {
        kind: "status",
        event: "online",
        text: "[Server is online...]",
        data: { port: event.port },
      };
    case "stats": {
      const { held, ...counters } = event.stats;
      return {
        kind: "status",
        event: "stats",
        text: statsText(event.stats),
        data: {
          ...counters,
          dropped: { ...counters.dropped },
          ...(held === undefined ? {} : { held: heldData(held) }),
        },
      };
    }
    case "unknown_command":
      return {
        kind: "error",
        event: "usage",
        text:
          `[Unknown command: ${event.command}. Server commands: stats, exit]`,
        data: { command: event.command },
      };
    case "server_error":
      return {
        kind: "error",
        event: "server_error",
        text: `[Server error: ${event.message}]`,
        data: { error: event.message },
      };
    case "cluster_node":
      if (event.role === "loading") {
        return {
          kind: "error",
          event: "cluster_node",
          text:
            `[Node ${event.node} leads but cannot read the store: it serves nobody until it can.]`,
          data: { node: event.node, role: event.role },
        };
      }
      return event.role === "leading"
        ? {
          kind: "status",
          event: "cluster_node",
          text: `[Node ${event.node} leads the chat: ${
            storedMessages(event.restored ?? 0)
          } restored${leadExtras(event.sessions ?? 0, event.inFlight ?? 0)}.]`,
          data: {
            node: event.node,
            role: event.role,
            restored: event.restored ?? 0,
            sessions: event.sessions ?? 0,
            inFlight: event.inFlight ?? 0,
          },
        }
        : {
          kind: "status",
          event: "cluster_node",
          text: `[Node ${event.node} follows the leading node.]`,
          data: { node: event.node, role: event.role },
        };
    case "node_stats":
      return {
        kind: "status",
        event: "stats",
        text:
          `[Stats: node ${event.node} follows: forwarded=${event.forwarded} relayed=${event.relayed}]`,
        data: {
          node: event.node,
          forwarded: event.forwarded,
          relayed: event.relayed,
        },
      };
    case "store_unavailable":
      return {
        kind: "error",
        event: "store_unavailable",
        text:
          "[Store unavailable: the connection to NATS is lost; saves are refused until it is back.]",
      };
    case "store_available":
      return {
        kind: "status",
        event: "store_available",
        text: "[Store available again: saves are accepted.]",
      };
  }
}

function statsText(s: ServerStatsSnapshot): string {
  const dropped = Object.entries(s.dropped).map(([k, v]) => `${k}=${v}`)
    .join(" ") || "none";
  const held = s.held === undefined ? "" : ` held: ${heldText(s.held)}`;
  return `[Stats: users=${s.users} online=${s.online} offline_messages=${s.offlineMessages} pending=${s.pending} in=${s.datagramsIn} out=${s.datagramsOut} bytes_in=${s.bytesIn} bytes_out=${s.bytesOut} retransmitted=${s.retransmissions}${held} dropped: ${dropped}]`;
}

// The held gauges as `--json` fields (`sendQueue` only when the runtime
// added it).
function heldData(h: HeldGauges): Record<string, number> {
  const data: Record<string, number> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) data[k] = v;
  return data;
}

// What the server holds (issue 13): `name=value` pairs whose names are no
// drop reason's, so that one parse of the line reads both.
function heldText(h: HeldGauges): string {
  const pairs: [string, number | undefined][] = [
    ["partials", h.partials],
    ["partial_bytes", h.partialBytes],
    ["notices_queued", h.noticesQueued],
    ["notices_held", h.noticesHeld],
    ["deliveries", h.deliveries],
    ["response_cache", h.responseCache],
    ["proven_sources", h.provenSources],
    ["unproven_buckets", h.unprovenBuckets],
    ["send_queue", h.sendQueue],
  ];
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

// "1 stored message", "N stored messages".
function storedMessages(n: number): string {
  return `${n} stored ${n === 1 ? "message" : "messages"}`;
}

// What else a new leader took over, said only when there is some.
function leadExtras(sessions: number, inFlight: number): string {
  let text = "";
  if (sessions > 0) {
    text += `, ${sessions} ${sessions === 1 ? "session" : "sessions"} kept`;
  }
  if (inFlight > 0) {
    text += `, ${inFlight} ${
      inFlight === 1 ? "message" : "messages"
    } in flight recovered`;
  }
  return text;
}
