/**
 * Every `--json` line, one per event type of client and server, validated
 * against `docs/events.schema.json` with Ajv; and the text lines unchanged by
 * the JSON fields.
 */
import { assertEquals } from "./_assert.ts";
import { validateJsonLine } from "./_json_schema.ts";
import type { ClientEvent, ClientEventType } from "../client/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import {
  describeServerEvent,
  type ServerConsoleEvent,
} from "../protocol/server_lines.ts";
import type { ServerEvent } from "../server/events.ts";
import { formatLine, jsonEvent } from "../runtime/output_format.ts";

const AT = "2023-10-21 02:14:41";
const ROW: [string, string, number, 0 | 1] = ["userB", "::1", 6001, 1];

// One event of every type: the compiler checks the list is complete.
const CLIENT: { [T in ClientEventType]: Extract<ClientEvent, { type: T }> } = {
  help: { type: "help", command: "send" },
  usage: { type: "usage", command: "send" },
  unknown_command: { type: "unknown_command", word: "x" },
  incorrect_username: { type: "incorrect_username" },
  offline_hint: { type: "offline_hint", name: "userA" },
  too_long: { type: "too_long", bytes: 16385 },
  too_many_parts: { type: "too_many_parts", parts: 110 },
  welcome: { type: "welcome", name: "userA" },
  offline: { type: "offline" },
  rejoin: { type: "rejoin" },
  server_switched: {
    type: "server_switched",
    previous: "127.0.0.1:5000",
    server: "127.0.0.1:5001",
  },
  server_restarted: { type: "server_restarted" },
  retrying: { type: "retrying", attempt: 1 },
  registering: {
    type: "registering",
    server: "[::1]:5000",
    attempt: 2,
    of: 5,
  },
  server_not_responding: { type: "server_not_responding" },
  exiting: { type: "exiting" },
  name_in_use: { type: "name_in_use", name: "userA" },
  name_claimed: { type: "name_claimed", name: "userA" },
  key_changed: { type: "key_changed", name: "userB" },
  confusable_name: {
    type: "confusable_name",
    name: "user\u0410",
    like: "userA",
  },
  server_full: { type: "server_full", request: "message" },
  too_big: { type: "too_big" },
  registration_refused: { type: "registration_refused", code: "bad_name" },
  request_refused: { type: "request_refused", code: "not_registered" },
  table_updated: { type: "table_updated", version: 3 },
  table: { type: "table", rows: [ROW], changed: [ROW] },
  table_summary: {
    type: "table_summary",
    users: 100,
    online: 99,
    changed: [ROW],
    more: 2,
    full: false,
  },
  sent: { type: "sent", to: "userB" },
  received: { type: "received", by: "userB" },
  group_ack: { type: "group_ack" },
  saved: { type: "saved", at: AT, to: "userB" },
  no_ack: { type: "no_ack", name: "userB" },
  saved_for: { type: "saved_for", name: "userB", at: AT },
  delivered_offline: { type: "delivered_offline", name: "userB", at: AT },
  not_saved: { type: "not_saved", name: "userB" },
  save_quota: { type: "save_quota", name: "userB", until: AT },
  unknown_user: { type: "unknown_user", name: "nobody" },
  message: { type: "message", from: "userB", message: "hi", own: false },
  group_message: { type: "group_message", from: "userB", message: "hi" },
  offline_messages: { type: "offline_messages", count: 2 },
  offline_message: {
    type: "offline_message",
    from: "userB",
    group: true,
    at: AT,
    message: "hi",
    own: false,
  },
  abandoned: { type: "abandoned", to: null, message: "hi" },
  network_error: { type: "network_error", message: "Bad file descriptor" },
};

const SERVER: (ServerEvent | ServerConsoleEvent)[] = [
  { type: "duplicate_login", name: "userA" },
  { type: "group_message", from: "userA", text: "hi" },
  { type: "table_updated", version: 4 },
  { type: "online", port: 5000 },
  {
    type: "stats",
    stats: {
      users: 3,
      online: 2,
      offlineMessages: 1,
      pending: 0,
      datagramsIn: 10,
      datagramsOut: 12,
      bytesIn: 900,
      bytesOut: 1500,
      retransmissions: 1,
      dropped: { rate: 4, json: 1 },
    },
  },
  { type: "unknown_command", command: "hello" },
  { type: "server_error", message: "Bad resource ID" },
  {
    type: "cluster_node",
    node: "n1",
    role: "leading",
    restored: 3,
    sessions: 2,
    inFlight: 1,
  },
  { type: "cluster_node", node: "n2", role: "following" },
  { type: "node_stats", node: "n2", forwarded: 5, relayed: 4 },
  { type: "store_unavailable" },
  { type: "store_available" },
];

Deno.test("--json: a line of every client event type matches the schema", () => {
  for (const event of Object.values(CLIENT)) {
    const line = describeClientEvent(event as ClientEvent);
    const json = formatLine(jsonEvent(line, new Date()), { json: true });
    assertEquals(validateJsonLine(json), [], json);
    const parsed = JSON.parse(json);
    assertEquals(Object.keys(parsed)[0], "v");
    assertEquals(parsed.text, line.text);
    // The text line is the one text mode prints, whatever JSON adds.
    assertEquals(formatLine(line), `>>> ${line.text}`.split("\n")[0]);
  }
});

Deno.test("--json: a line of every server event type matches the schema", () => {
  for (const event of SERVER) {
    const json = formatLine(jsonEvent(describeServerEvent(event), new Date()), {
      json: true,
    });
    assertEquals(validateJsonLine(json), [], json);
  }
});

Deno.test("--json: the schema refuses what is not a line of version 1", () => {
  const good = formatLine(
    jsonEvent(describeClientEvent(CLIENT.sent), new Date()),
    { json: true },
  );
  const o = JSON.parse(good);
  for (
    const bad of [
      { ...o, v: 2 },
      { ...o, to: 7 },
      { ...o, extra: true },
      { ...o, time: "yesterday" },
      (({ to: _, ...rest }) => rest)(o),
    ]
  ) {
    const errors = validateJsonLine(JSON.stringify(bad));
    assertEquals(errors.length > 0, true, JSON.stringify(bad));
  }
});

Deno.test("--json: a save refused by the sender's quota says until when, as ISO 8601", () => {
  const json = formatLine(
    jsonEvent(describeClientEvent(CLIENT.save_quota), new Date()),
    { json: true },
  );
  assertEquals(validateJsonLine(json), [], json);
  const o = JSON.parse(json);
  assertEquals([o.event, o.to, o.why], ["refused", "userB", "quota"]);
  assertEquals(String(o.until).slice(0, 19), "2023-10-21T02:14:41");
  // Without `until` (a server that did not say) it is still a valid line.
  const bare = formatLine(
    jsonEvent(
      describeClientEvent({ type: "save_quota", name: "userB" }),
      new Date(),
    ),
    { json: true },
  );
  assertEquals(validateJsonLine(bare), [], bare);
});
