/**
 * Every line the client prints, once per event type: the exact words, kind,
 * event name, `--json` data and bell that `describeClientEvent` gives. The
 * lines marked `seed` are quoted from the customer's spec
 * (`shared/spec/000_129af943893e7073.txt`, test cases and examples) or from
 * `SEMANTICS.md`; the others are udpchat's own, as README.md lists them.
 */
import type { ClientEvent, ClientEventType } from "../client/mod.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import { assert, assertEquals } from "./_assert.ts";

interface Row {
  event: ClientEvent;
  line: OutputEvent;
  /** Where the seed shows this exact text, when it does. */
  seed?: string;
}

const ROWS: Row[] = [
  {
    event: { type: "help", command: "send" },
    line: {
      kind: "status",
      event: "help",
      text:
        "send NAME MESSAGE   private message, peer to peer   e.g. send userB hi there",
    },
  },
  {
    event: { type: "usage", command: "send" },
    line: { kind: "error", event: "usage", text: "[Usage: send NAME MESSAGE]" },
  },
  {
    event: { type: "unknown_command", word: "sned" },
    line: {
      kind: "error",
      event: "usage",
      text: "[Unknown command: sned. Type help for the list.]",
    },
  },
  {
    event: { type: "incorrect_username" },
    line: {
      kind: "error",
      event: "incorrect_username",
      text: "[Incorrect username.]",
    },
    seed: "test case 5",
  },
  {
    event: { type: "offline_hint", name: "userA" },
    line: {
      kind: "error",
      event: "offline",
      text: "[You are Offline. Type 'reg userA' to come back online.]",
    },
  },
  {
    event: { type: "too_long", bytes: 16385 },
    line: {
      kind: "error",
      event: "too_long",
      text:
        "[Message too long: 16385 bytes, the limit is 16384. Nothing was sent.]",
    },
  },
  {
    event: { type: "too_many_parts", parts: 65 },
    line: {
      kind: "error",
      event: "too_long",
      text:
        "[Message too long: it needs 65 datagrams, the limit is 64. Nothing was sent.]",
    },
  },
  {
    event: { type: "welcome", name: "userA" },
    line: {
      kind: "status",
      event: "welcome",
      text: "[Welcome, You are registered.]",
      data: { name: "userA" },
    },
    seed: "examples, every test case",
  },
  {
    event: { type: "offline" },
    line: { kind: "status", event: "offline", text: "[You are Offline. Bye.]" },
    seed: "dereg, test cases 1, 3, 5, 6",
  },
  {
    event: { type: "rejoin" },
    line: {
      kind: "status",
      event: "rejoin",
      text: "[The server marked you Offline; registering again.]",
    },
  },
  {
    event: {
      type: "server_switched",
      previous: "127.0.0.1:5000",
      server: "127.0.0.1:5001",
    },
    line: {
      kind: "status",
      event: "server_switched",
      text: "[Server 127.0.0.1:5000 not responding; now using 127.0.0.1:5001.]",
      data: { previous: "127.0.0.1:5000", server: "127.0.0.1:5001" },
    },
  },
  {
    event: { type: "server_restarted" },
    line: {
      kind: "status",
      event: "server_restarted",
      text: "[The server restarted; registered again.]",
    },
  },
  {
    event: { type: "retrying", attempt: 3 },
    line: {
      kind: "status",
      event: "retrying",
      text: "[Message sent! 3 time(s) retrying...]",
      data: { attempt: 3 },
    },
    seed: "test cases 2 and 6",
  },
  {
    event: {
      type: "registering",
      server: "127.0.0.1:5000",
      attempt: 1,
      of: 5,
    },
    line: {
      kind: "status",
      event: "registering",
      text:
        "[Registering with 127.0.0.1:5000: no answer, trying again (1 of 5)...]",
      data: { server: "127.0.0.1:5000", attempt: 1, of: 5 },
    },
  },
  {
    event: { type: "server_not_responding" },
    line: {
      kind: "error",
      event: "server_not_responding",
      text: "[Server not responding.]",
    },
    seed: "test cases 2 and 6",
  },
  {
    event: { type: "exiting" },
    line: { kind: "status", event: "exiting", text: "[Exiting...]" },
    seed: "test cases 2 and 6",
  },
  {
    event: { type: "name_in_use", name: "userB" },
    line: {
      kind: "error",
      event: "name_in_use",
      text: "[Username userB is already in use by another session.]",
      data: { name: "userB" },
    },
  },
  {
    event: { type: "name_claimed", name: "userA" },
    line: {
      kind: "error",
      event: "name_claimed",
      text:
        "[Username userA is protected by a passphrase: wrong passphrase, or not claimed in this session.]",
      data: { name: "userA" },
    },
  },
  {
    event: { type: "key_changed", name: "userB" },
    line: {
      kind: "error",
      event: "key_changed",
      text:
        "[Warning: the encryption key of userB changed. Unless userB claimed the name again, someone may be impersonating them.]",
      data: { name: "userB" },
    },
  },
  {
    event: { type: "confusable_name", name: "user\u0410", like: "userA" },
    line: {
      kind: "error",
      event: "confusable_name",
      text:
        "[Username user\u0410 looks like userA, already registered: choose another name.]",
      data: { name: "user\u0410", like: "userA" },
    },
  },
  {
    event: { type: "server_full", request: "registration" },
    line: {
      kind: "error",
      event: "full",
      text: "[Server is full: registration refused.]",
    },
  },
  {
    event: { type: "server_full", request: "message" },
    line: {
      kind: "error",
      event: "full",
      text: "[Server is full: message not sent.]",
    },
  },
  {
    event: { type: "too_big" },
    line: {
      kind: "error",
      event: "too_big",
      text: "[Message refused by the server: too long.]",
    },
  },
  {
    event: { type: "registration_refused", code: "not_registered" },
    line: {
      kind: "error",
      event: "not_registered",
      text: "[Registration refused: not registered.]",
    },
  },
  {
    event: { type: "request_refused", code: "offline" },
    line: {
      kind: "error",
      event: "offline",
      text: "[Not registered with the server: request refused.]",
    },
  },
  {
    event: { type: "table_updated", version: 7 },
    line: {
      kind: "status",
      event: "table_updated",
      text: "[Client table updated.]",
      data: { version: 7 },
    },
    seed: "examples, every test case",
  },
  {
    event: {
      type: "table",
      rows: [
        ["userA", "127.0.0.1", 6000, 0],
        ["userD", "127.0.0.1", 6003, 1],
      ],
      changed: [["userA", "127.0.0.1", 6000, 0]],
    },
    line: {
      kind: "table",
      event: "table",
      text:
        "{'userA': ['127.0.0.1', 6000, 'Offline'], 'userD': ['127.0.0.1', 6003, 'Online']}",
      data: {
        users: 2,
        online: 1,
        rows: [
          { name: "userA", ip: "127.0.0.1", port: 6000, online: false },
          { name: "userD", ip: "127.0.0.1", port: 6003, online: true },
        ],
      },
    },
    seed: "dereg example",
  },
  {
    event: { type: "sent", to: "userD" },
    line: {
      kind: "status",
      event: "sent",
      text: "[Message sent!]",
      data: { to: "userD" },
    },
    seed: "send example, test cases 1, 2, 4",
  },
  {
    event: { type: "received", by: "userD" },
    line: {
      kind: "status",
      event: "received",
      text: "[Message received by userD.]",
      data: { to: "userD" },
    },
    seed: "send example",
  },
  {
    event: { type: "group_ack" },
    line: {
      kind: "status",
      event: "group_ack",
      text: "[Group Message received by Server.]",
    },
    seed: "test cases 3, 4, 6",
  },
  {
    event: { type: "saved", at: "2023-10-21 02:14:41", to: "userA" },
    line: {
      kind: "notice",
      event: "saved",
      text:
        "[Offline Message sent at 2023-10-21 02:14:41 received by the server and saved.]",
      data: { to: "userA", group: false, at: "2023-10-21 02:14:41" },
    },
    seed: "dereg example",
  },
  {
    event: { type: "no_ack", name: "userD" },
    line: {
      kind: "notice",
      event: "no_ack",
      text: "[No ACK from userD, message not delivered.]",
      data: { to: "userD" },
    },
    seed: "test case 3",
  },
  {
    event: { type: "saved_for", name: "userD", at: "2023-10-21 02:55:38" },
    line: {
      kind: "notice",
      event: "saved",
      text:
        "[Offline Message sent at 02:55:38 received by the server and saved.]",
      data: { to: "userD", group: true, at: "2023-10-21 02:55:38" },
    },
    seed: "test case 3",
  },
  {
    event: {
      type: "delivered_offline",
      name: "userA",
      at: "2023-10-21 02:14:41",
    },
    line: {
      kind: "notice",
      event: "delivered_offline",
      text: "[Offline Message sent at 02:14:41 received by userA]",
      data: { to: "userA", at: "2023-10-21 02:14:41" },
    },
    seed: "reg example",
  },
  {
    event: { type: "not_saved", name: "userD" },
    line: {
      kind: "error",
      event: "refused",
      text: "[Message to userD not saved: the server's storage is full.]",
      data: { to: "userD", why: "full" },
    },
  },
  {
    event: { type: "not_saved", name: "userD", why: "store_unavailable" },
    line: {
      kind: "error",
      event: "refused",
      text: "[Message to userD not saved: the server cannot reach its store.]",
      data: { to: "userD", why: "store_unavailable" },
    },
  },
  {
    event: {
      type: "save_quota",
      name: "userP1",
      until: "2023-10-21 03:14:41",
    },
    line: {
      kind: "error",
      event: "refused",
      text:
        "[Message to userP1 not saved: you have reached your hourly limit of saved messages; try again after 03:14:41.]",
      data: { to: "userP1", why: "quota", until: "2023-10-21 03:14:41" },
    },
  },
  {
    event: { type: "save_quota", name: "userP1" },
    line: {
      kind: "error",
      event: "refused",
      text:
        "[Message to userP1 not saved: you have reached your hourly limit of saved messages.]",
      data: { to: "userP1", why: "quota" },
    },
  },
  {
    event: { type: "unknown_user", name: "userZ" },
    line: {
      kind: "error",
      event: "unknown_user",
      text: "[Unknown user userZ.]",
      data: { to: "userZ" },
    },
  },
  {
    event: { type: "message", from: "userA", message: "hii", own: false },
    line: {
      kind: "incoming",
      event: "message",
      text: "userA: hii",
      data: { from: "userA", message: "hii" },
      bell: true,
    },
    seed: "send example",
  },
  {
    event: { type: "message", from: "userA", message: "hi hi", own: true },
    line: {
      kind: "own",
      event: "message",
      text: "userA: hi hi",
      data: { from: "userA", message: "hi hi" },
      bell: false,
    },
    seed: "test case 4",
  },
  {
    event: { type: "group_message", from: "userA", message: "hii" },
    line: {
      kind: "incoming",
      event: "group_message",
      text: "Group Chat userA: hii",
      data: { from: "userA", message: "hii" },
    },
    seed: "send_all example",
  },
  {
    event: { type: "offline_messages", count: 2 },
    line: {
      kind: "status",
      event: "offline_messages",
      text: "[You have offline messages:]",
      data: { count: 2 },
    },
    seed: "reg example, test cases 1, 3, 5",
  },
  {
    event: {
      type: "offline_message",
      from: "userD",
      group: false,
      at: "2023-10-21 02:14:41",
      message: "hii",
      own: false,
    },
    line: {
      kind: "incoming",
      event: "offline_message",
      text: "userD: 02:14:41 hii",
      data: {
        from: "userD",
        group: false,
        at: "2023-10-21 02:14:41",
        message: "hii",
      },
    },
    seed: "reg example",
  },
  {
    event: {
      type: "offline_message",
      from: "userD",
      group: true,
      at: "2023-10-21 02:22:40",
      message: "hi",
      own: false,
    },
    line: {
      kind: "incoming",
      event: "offline_message",
      text: "Group_Chat:userD: 02:22:40 hi",
      data: {
        from: "userD",
        group: true,
        at: "2023-10-21 02:22:40",
        message: "hi",
      },
    },
    seed: "reg example",
  },
  {
    event: {
      type: "table_summary",
      users: 10_000,
      online: 9_999,
      changed: [["userB", "127.0.0.1", 6001, 0]],
      more: 0,
      full: false,
    },
    line: {
      kind: "table",
      event: "table",
      text: "{10000 users: 9999 Online, 1 Offline; changed: userB Offline}",
      data: {
        users: 10_000,
        online: 9_999,
        changed: [
          { name: "userB", ip: "127.0.0.1", port: 6001, online: false },
        ],
        more: 0,
      },
    },
  },
  {
    event: { type: "abandoned", to: null, message: "build 812 passed" },
    line: {
      kind: "error",
      event: "abandoned",
      text: "[Exiting: group message not sent: build 812 passed]",
      data: { to: null, message: "build 812 passed" },
    },
  },
  {
    event: { type: "abandoned", to: "userB", message: "hi" },
    line: {
      kind: "error",
      event: "abandoned",
      text: "[Exiting: message to userB not confirmed: hi]",
      data: { to: "userB", message: "hi" },
    },
  },
  {
    event: { type: "network_error", message: "Bad file descriptor" },
    line: {
      kind: "error",
      event: "socket_error",
      text: "[Network error: Bad file descriptor]",
    },
  },
];

// Every event type, listed once: the compiler checks the list is complete.
const TYPES: Record<ClientEventType, true> = {
  help: true,
  usage: true,
  unknown_command: true,
  incorrect_username: true,
  offline_hint: true,
  too_long: true,
  too_many_parts: true,
  welcome: true,
  offline: true,
  rejoin: true,
  server_restarted: true,
  server_switched: true,
  retrying: true,
  registering: true,
  server_not_responding: true,
  exiting: true,
  name_in_use: true,
  confusable_name: true,
  name_claimed: true,
  key_changed: true,
  server_full: true,
  too_big: true,
  registration_refused: true,
  request_refused: true,
  table_updated: true,
  table: true,
  table_summary: true,
  sent: true,
  received: true,
  group_ack: true,
  saved: true,
  no_ack: true,
  saved_for: true,
  delivered_offline: true,
  not_saved: true,
  save_quota: true,
  unknown_user: true,
  message: true,
  group_message: true,
  offline_messages: true,
  offline_message: true,
  abandoned: true,
  network_error: true,
};

Deno.test("describeClientEvent: every client line, word for word", () => {
  for (const row of ROWS) {
    assertEquals(describeClientEvent(row.event), row.line, row.event.type);
  }
  const covered = new Set(ROWS.map((r) => r.event.type));
  for (const type of Object.keys(TYPES)) {
    assert(covered.has(type as ClientEventType), `no row for ${type}`);
  }
});

const SPEC = new URL(
  "../../shared/spec/000_129af943893e7073.txt",
  import.meta.url,
);
const SEMANTICS = new URL("../../shared/spec/SEMANTICS.md", import.meta.url);

function readOrUndefined(url: URL): string | undefined {
  try {
    return Deno.readTextFileSync(url);
  } catch {
    return undefined;
  }
}

const spec = readOrUndefined(SPEC);
const semantics = readOrUndefined(SEMANTICS);

Deno.test({
  name: "describeClientEvent: the seed's lines are the spec's, as written",
  // The spec sits beside the repository (shared/), not inside it.
  ignore: spec === undefined || semantics === undefined,
  fn() {
    for (const row of ROWS.filter((r) => r.seed !== undefined)) {
      const text = describeClientEvent(row.event).text;
      assert(
        spec!.includes(`>>> ${text}`) || semantics!.includes(text),
        `${row.event.type} (${row.seed}): "${text}" is not in the spec`,
      );
    }
  },
});
