/**
 * Every line the server prints, in its exact words: one row per event, with
 * the seed spec's line where the spec has one (quoted here, from
 * `spec/000_129af943893e7073.txt` and `spec/SEMANTICS.md`).
 */
import type { OutputEvent } from "../protocol/events.ts";
import {
  describeServerEvent,
  type ServerConsoleEvent,
} from "../protocol/server_lines.ts";
import type { ServerEvent, ServerStatsSnapshot } from "../server/mod.ts";
import { assertEquals } from "./_assert.ts";

const STATS: ServerStatsSnapshot = {
  datagramsIn: 10,
  datagramsOut: 12,
  bytesIn: 900,
  bytesOut: 1500,
  retransmissions: 1,
  dropped: { rate: 4, json: 1 },
  users: 3,
  online: 2,
  offlineMessages: 1,
  pending: 5,
};

const LINES: {
  event: ServerEvent | ServerConsoleEvent;
  line: OutputEvent;
  /** Where the seed spec shows the line. */
  spec?: string;
}[] = [
  {
    event: { type: "online", port: 5000 },
    line: {
      kind: "status",
      event: "online",
      text: "[Server is online...]",
      data: { port: 5000 },
    },
    spec: ">>> [Server is online...]",
  },
  {
    event: { type: "table_updated", version: 4 },
    line: {
      kind: "status",
      event: "table_updated",
      text: "[Client table updated.]",
      data: { version: 4 },
    },
    spec: ">>> [Client table updated.]",
  },
  {
    event: { type: "group_message", from: "userA", text: "hii" },
    line: {
      kind: "status",
      event: "group_message",
      text: "[Client userA sent group message: hii ]",
      data: { from: "userA", message: "hii" },
    },
    spec: ">>> [Client userA sent group message: hii ]",
  },
  {
    event: { type: "duplicate_login", name: "userA" },
    line: {
      kind: "status",
      event: "duplicate_login",
      text: "[Duplicate login detected.]",
      data: { name: "userA" },
    },
    spec: "the server prints `[Duplicate login detected.]`",
  },
  {
    event: { type: "stats", stats: STATS },
    line: {
      kind: "status",
      event: "stats",
      text:
        "[Stats: users=3 online=2 offline_messages=1 pending=5 in=10 out=12 bytes_in=900 bytes_out=1500 retransmitted=1 dropped: rate=4 json=1]",
      data: {
        datagramsIn: 10,
        datagramsOut: 12,
        bytesIn: 900,
        bytesOut: 1500,
        retransmissions: 1,
        dropped: { rate: 4, json: 1 },
        users: 3,
        online: 2,
        offlineMessages: 1,
        pending: 5,
      },
    },
  },
  {
    event: { type: "stats", stats: { ...STATS, dropped: {} } },
    line: {
      kind: "status",
      event: "stats",
      text:
        "[Stats: users=3 online=2 offline_messages=1 pending=5 in=10 out=12 bytes_in=900 bytes_out=1500 retransmitted=1 dropped: none]",
      data: {
        datagramsIn: 10,
        datagramsOut: 12,
        bytesIn: 900,
        bytesOut: 1500,
        retransmissions: 1,
        dropped: {},
        users: 3,
        online: 2,
        offlineMessages: 1,
        pending: 5,
      },
    },
  },
  {
    event: { type: "unknown_command", command: "hello" },
    line: {
      kind: "error",
      event: "usage",
      text: "[Unknown command: hello. Server commands: stats, exit]",
      data: { command: "hello" },
    },
  },
  {
    event: { type: "server_error", message: "Bad resource ID" },
    line: {
      kind: "error",
      event: "server_error",
      text: "[Server error: Bad resource ID]",
      data: { error: "Bad resource ID" },
    },
  },
  {
    event: {
      type: "cluster_node",
      node: "n5000",
      role: "leading",
      restored: 100,
    },
    line: {
      kind: "status",
      event: "cluster_node",
      text: "[Node n5000 leads the chat: 100 stored messages restored.]",
      data: {
        node: "n5000",
        role: "leading",
        restored: 100,
        sessions: 0,
        inFlight: 0,
      },
    },
  },
  {
    event: {
      type: "cluster_node",
      node: "n5003",
      role: "leading",
      restored: 1,
    },
    line: {
      kind: "status",
      event: "cluster_node",
      text: "[Node n5003 leads the chat: 1 stored message restored.]",
      data: {
        node: "n5003",
        role: "leading",
        restored: 1,
        sessions: 0,
        inFlight: 0,
      },
    },
  },
  {
    event: {
      type: "cluster_node",
      node: "n5004",
      role: "leading",
      restored: 0,
      sessions: 1,
      inFlight: 2,
    },
    line: {
      kind: "status",
      event: "cluster_node",
      text:
        "[Node n5004 leads the chat: 0 stored messages restored, 1 session kept, 2 messages in flight recovered.]",
      data: {
        node: "n5004",
        role: "leading",
        restored: 0,
        sessions: 1,
        inFlight: 2,
      },
    },
  },
  {
    event: { type: "cluster_node", node: "n5001", role: "following" },
    line: {
      kind: "status",
      event: "cluster_node",
      text: "[Node n5001 follows the leading node.]",
      data: { node: "n5001", role: "following" },
    },
  },
  {
    event: { type: "cluster_node", node: "n5002", role: "loading" },
    line: {
      kind: "error",
      event: "cluster_node",
      text:
        "[Node n5002 leads but cannot read the store: it serves nobody until it can.]",
      data: { node: "n5002", role: "loading" },
    },
  },
  {
    event: { type: "node_stats", node: "n5001", forwarded: 7, relayed: 9 },
    line: {
      kind: "status",
      event: "stats",
      text: "[Stats: node n5001 follows: forwarded=7 relayed=9]",
      data: { node: "n5001", forwarded: 7, relayed: 9 },
    },
  },
  {
    event: { type: "store_unavailable" },
    line: {
      kind: "error",
      event: "store_unavailable",
      text:
        "[Store unavailable: the connection to NATS is lost; saves are refused until it is back.]",
    },
  },
  {
    event: { type: "store_available" },
    line: {
      kind: "status",
      event: "store_available",
      text: "[Store available again: saves are accepted.]",
    },
  },
];

for (const { event, line, spec } of LINES) {
  Deno.test(`describeServerEvent() words ${event.type}: ${line.text}`, () => {
    assertEquals(describeServerEvent(event), line);
    if (spec !== undefined) {
      const quoted = spec.startsWith(">>> ")
        ? spec.slice(4)
        : spec.slice(spec.indexOf("`") + 1, spec.lastIndexOf("`"));
      assertEquals(line.text, quoted, "the seed spec's words");
    }
  });
}

Deno.test("describeServerEvent() has a row above for every event type", () => {
  const covered = new Set(LINES.map((l) => l.event.type));
  const every: Record<
    ServerEvent["type"] | ServerConsoleEvent["type"],
    true
  > = {
    duplicate_login: true,
    group_message: true,
    table_updated: true,
    online: true,
    stats: true,
    unknown_command: true,
    server_error: true,
    cluster_node: true,
    node_stats: true,
    store_unavailable: true,
    store_available: true,
  };
  assertEquals([...covered].sort(), Object.keys(every).sort());
});
