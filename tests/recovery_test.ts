/**
 * Clients that recover (issue "Nothing lost when a server dies"), on the fake
 * network and clock: keepalives every 15 to 25 s, a restarted server noticed
 * within one interval, a client marked Offline while its notice was lost
 * rejoining by itself, and a message typed meanwhile delivered, not refused;
 * a client with `--failover` stays with a server it hears from.
 */
import { decodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { ServerState } from "../server/mod.ts";
import { assert, assertEquals } from "./_assert.ts";
import { SILENT_PASSES } from "../client/keepalive.ts";
import { ClientState } from "./_client.ts";
import { chat, clientAddr, type FakeNet, seededBytes, SERVER } from "./_sim.ts";

const RESTARTED = "[The server restarted; registered again.]";
const REJOIN = "[The server marked you Offline; registering again.]";
const ONE_INTERVAL_MS = 25_000;

function decoded(bytes: Uint8Array): Message | undefined {
  const r = decodeMessage(bytes);
  return r.ok ? r.message : undefined;
}

Deno.test("Keepalive: an idle client sends one small datagram per 15 to 25 s, answered by a smaller one", () => {
  const { net, addr } = chat(["userA"]);
  const sent: { at: number; m: Message; size: number }[] = [];
  const answers: { m: Message; size: number }[] = [];
  net.filter = (d) => {
    const m = decoded(d.bytes);
    if (m === undefined) return false;
    if (d.to.port === SERVER.port) {
      sent.push({ at: net.now, m, size: d.bytes.length });
    } else answers.push({ m, size: d.bytes.length });
    return false;
  };
  const t0 = net.now;
  net.run(100_000);
  const keepalives = sent.filter((s) => s.m.t === "ka");
  assertEquals(sent.length, keepalives.length, "nothing but keepalives");
  assert(
    keepalives.length >= 4 && keepalives.length <= 7,
    `${keepalives.length}`,
  );
  let last = t0;
  for (const k of keepalives) {
    assert(k.at - last <= ONE_INTERVAL_MS, `a gap of ${k.at - last} ms`);
    last = k.at;
  }
  assertEquals(answers.length, keepalives.length);
  for (const [i, a] of answers.entries()) {
    assertEquals(a.m.t, "ack");
    assert(a.size <= keepalives[i].size, "never larger than the keepalive");
  }
  assertEquals(net.lines(addr("userA")).length, 3, "nothing printed");
});

Deno.test("ClientState notices a restarted server within one keepalive interval and registers again", () => {
  const { net, addr } = chat(["userA", "userB"]);
  const [a0, b0] = [
    net.lines(addr("userA")).length,
    net.lines(addr("userB")).length,
  ];
  // The server dies and a new instance starts on the same address, empty.
  net.remove(SERVER);
  const fresh = net.add(SERVER, new ServerState({ random: seededBytes(77) }));
  net.run(ONE_INTERVAL_MS + 1_000);
  for (const [name, from] of [["userA", a0], ["userB", b0]] as const) {
    const lines = net.lines(addr(name)).slice(from);
    assertEquals(lines[0], RESTARTED, name);
    assertEquals(lines.filter((l) => l === RESTARTED).length, 1);
    assert(
      !lines.includes(REJOIN),
      "not the Offline line: that is not what happened",
    );
  }
  assertEquals(fresh.table.map((r) => [r[0], r[3]]), [["userA", 1], [
    "userB",
    1,
  ]]);
  assertEquals(
    net.lines(addr("userA")).at(-1),
    "{'userA': ['127.0.0.1', 6000, 'Online'], 'userB': ['127.0.0.1', 6001, 'Online']}",
  );
});

Deno.test("ClientState: a send_all typed just after a restart is delivered, not refused", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  net.remove(SERVER);
  net.add(SERVER, new ServerState({ random: seededBytes(78) }));
  const a0 = net.lines(addr("userA")).length;
  type("userA", "send_all anyone there?");
  net.run(2_000);
  const lines = net.lines(addr("userA")).slice(a0);
  assertEquals(lines[0], RESTARTED);
  assert(
    lines.includes("[Group Message received by Server.]"),
    lines.join("\n"),
  );
  assert(!lines.some((l) => l.includes("refused")), lines.join("\n"));
  // (userB, not yet registered again with the new in-memory server, is
  // unknown to it: the fan-out covers the users the server knows. A durable
  // store keeps the users across a restart.)
});

Deno.test("ClientState: a private message that falls back to a restarted server registers again and is saved", () => {
  const { net, type, addr } = chat(["userA", "userB"]);
  net.remove(SERVER);
  net.add(SERVER, new ServerState({ random: seededBytes(79) }));
  // userB is back first (its send_all makes it register again), then leaves.
  type("userB", "send_all back");
  net.run(1_000);
  type("userB", "dereg userB");
  net.run(1_000);
  assertEquals(net.lines(addr("userB")).at(-1), "[You are Offline. Bye.]");
  // userA, still on the old session, sends to userB peer to peer: no ACK,
  // so it goes through the server, which no longer knows userA's session.
  const a0 = net.lines(addr("userA")).length;
  type("userA", "send userB kept for you");
  net.run(2_000);
  const lines = net.lines(addr("userA")).slice(a0);
  assert(lines.includes(RESTARTED), lines.join("\n"));
  assert(
    lines.some((l) =>
      /^\[Offline Message sent at .* received by the server and saved\.\]$/
        .test(l)
    ),
    lines.join("\n"),
  );
  assert(!lines.some((l) => l.includes("Not registered")), lines.join("\n"));
  type("userB", "reg userB");
  net.run(1_000);
  assert(
    net.lines(addr("userB")).some((l) => l.endsWith("kept for you")),
    net.lines(addr("userB")).join("\n"),
  );
});

Deno.test("ClientState marked Offline while its notices are lost rejoins within one keepalive interval", () => {
  const { net, server, type, addr } = chat(["userA", "userB"]);
  const A = addr("userA");
  // Everything to userA is lost for a while: the server's delivery of a
  // group message to it fails, it marks userA Offline and saves the message,
  // and userA hears none of it.
  net.filter = (d) => d.to.port === A.port;
  type("userB", "send_all are you there?");
  net.run(2_000);
  assertEquals(
    server.table.find((r) => r[0] === "userA")?.[3],
    0,
    "marked Offline",
  );
  net.filter = undefined;
  const a0 = net.lines(A).length;
  net.run(ONE_INTERVAL_MS + 1_000);
  const lines = net.lines(A).slice(a0);
  assertEquals(lines[0], REJOIN, lines.join("\n"));
  assertEquals(
    server.table.find((r) => r[0] === "userA")?.[3],
    1,
    "Online again",
  );
  assert(
    lines.some((l) => l.includes("are you there?")),
    "the saved message arrives",
  );
});

/** Another node of the chat, where nothing answers. */
const OTHER = { hostname: "127.0.0.1", port: SERVER.port + 1 };

/** userA at client address 5, with `--failover` to {@linkcode OTHER}, Online. */
function failoverClient(net: FakeNet, seed: number): ClientState {
  const a = net.add(
    clientAddr(5),
    new ClientState({
      name: "userA",
      server: SERVER,
      failover: [OTHER],
      random: seededBytes(seed),
    }),
  );
  a.start(net.now);
  net.step();
  net.run(1_000);
  assertEquals(a.phase, "online");
  return a;
}

Deno.test("ClientState with --failover stays with a server it hears from, though its keepalive answers are lost", () => {
  const { net, type } = chat(["userB"]);
  failoverClient(net, 55);
  // Every answer to userA's keepalives is lost (an `ack` with the boot id).
  net.filter = (d) => {
    const m = decoded(d.bytes);
    return d.to.port === clientAddr(5).port && m?.t === "ack" &&
      m.boot !== undefined;
  };
  // The server goes on sending userA group messages: it is alive.
  for (let i = 0; i < 24; i++) {
    type("userB", `send_all tick ${i}`);
    net.run(5_000);
  }
  const lines = net.lines(clientAddr(5));
  assert(lines.includes("Group Chat userB: tick 23"), lines.join("\n"));
  assertEquals(lines.filter((l) => l.includes("not responding")), []);
});

Deno.test("ClientState with --failover, idle, every server gone: it moves between them, then says so and exits 1", () => {
  const { net } = chat([]);
  const a = failoverClient(net, 56);
  net.remove(SERVER);
  // Nothing typed: two keepalive intervals without a word at each server,
  // for SILENT_PASSES passes over both.
  const there = `127.0.0.1:${OTHER.port}`;
  const back = `127.0.0.1:${SERVER.port}`;
  net.run(2 * SILENT_PASSES * 2 * ONE_INTERVAL_MS + ONE_INTERVAL_MS);
  const lines = net.lines(clientAddr(5));
  const moves = [];
  for (let i = 0; i < 2 * SILENT_PASSES - 1; i++) {
    moves.push(
      i % 2 === 0
        ? `[Server ${back} not responding; now using ${there}.]`
        : `[Server ${there} not responding; now using ${back}.]`,
    );
  }
  assertEquals(lines.filter((l) => l.includes("not responding")), [
    ...moves,
    "[Server not responding.]",
  ]);
  assertEquals(lines.at(-1), "[Exiting...]");
  assertEquals(a.exitCode, 1);
});
