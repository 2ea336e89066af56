/**
 * Write-ahead across a leader's death (issue 10, server/journal.ts), with
 * real processes: three `udpchat -s` nodes on one NATS (a real `nats-server
 * -js` the test starts); a recipient frozen with SIGSTOP so that the leading
 * node's delivery to it is outstanding; a message sent to it; the leader
 * killed with SIGKILL; the recipient thawed with SIGCONT. With `--failover`
 * it reaches another node and shows the message exactly once. A group
 * message: the new leader recovered it from the journal and delivered it
 * live to the recipient, whose session it kept, as every other client's.
 * A private message: the copy saved before `pending` waits for the
 * recipient, so the new leader brings it back Offline; its client registers
 * again and gets it from the offline list, and the sender is told it was
 * delivered.
 *
 * The frozen client may also find the leader's live copy (or, for a private
 * message, the sender's own) in its socket buffer when thawed: it shows that
 * one, and drops the recovered copy as shown before (client/inbox.ts), which
 * still counts as delivered. Without write-ahead the new leader knows
 * nothing of the message: its lead line recovers none in flight, and the
 * sender of the private one never hears of its delivery.
 */
import { exitAll, killNode, RECOVERY, startNode } from "./_cluster.ts";
import { assertEquals, assertMatch } from "./_assert.ts";
import { NATS_SKIP_REASON, NatsServer } from "./_nats_server.ts";
import { freePort, serverStats, startClient } from "./_proc.ts";

if (NATS_SKIP_REASON !== undefined) {
  // deno-lint-ignore no-console
  console.warn(`e2e_write_ahead_test skipped: ${NATS_SKIP_REASON}`);
}
const ignore = NATS_SKIP_REASON !== undefined;

/**
 * Three nodes (the first leads), userA on node 2, userB on the leader and
 * userC on node 3, each with a 1 s keepalive and `--failover` to another
 * node, all Online in every table.
 */
async function threeNodes(nats: NatsServer) {
  const [p1, p2, p3] = [freePort(), freePort(), freePort()];
  const n1 = await startNode(p1, nats);
  await n1.waitFor(/^\[Node .* leads the chat/);
  const n2 = await startNode(p2, nats);
  const n3 = await startNode(p3, nats);
  await n2.waitFor(/^\[Node .* follows the leading node\.\]$/);
  await n3.waitFor(/^\[Node .* follows the leading node\.\]$/);
  const client = (name: string, port: number, other: number) =>
    startClient(name, port, freePort(), {
      args: ["--failover", `127.0.0.1:${other}`, "--keepalive", "1"],
    });
  const A = await client("userA", p2, p3);
  const B = await client("userB", p1, p2);
  const C = await client("userC", p3, p2);
  for (const p of [A, B, C]) {
    await p.waitFor((l) =>
      ["userA", "userB", "userC"].every((n) => l.includes(`'${n}'`)) &&
      !l.includes("Offline")
    );
  }
  return { n1, n2, n3, A, B, C };
}

Deno.test({
  name:
    "the leader killed while a group message is on its way to a frozen client: the client, thawed, shows it once after failover with its session kept; the new leader recovered it from the journal",
  ignore,
  fn: async () => {
    await using nats = await NatsServer.start();
    const { n1, n2, n3, A, B, C } = await threeNodes(nats);
    await using _n2 = n2;
    await using _n3 = n3;
    await using _A = A;
    await using _B = B;
    await using _C = C;
    const text = "in flight when the leader died";
    B.kill("SIGSTOP");
    await A.type(`send_all ${text}`);
    await A.waitFor("[Group Message received by Server.]");
    await C.waitFor(`Group Chat userA: ${text}`);
    await killNode(n1);
    B.kill("SIGCONT");

    await B.waitFor(/not responding; now using /);
    // Exactly once, however it came: a later message is shown after it, and
    // the first was shown once.
    await A.type("send_all and after the failover");
    await B.waitFor("Group Chat userA: and after the failover");
    assertEquals(B.count((l) => l.endsWith(text)), 1, B.lines.join("\n"));
    assertEquals(C.count((l) => l.endsWith(text)), 1, "userC once too");
    // Every session was kept: not a line about it.
    for (const p of [A, B, C]) {
      assertEquals(p.count(RECOVERY), 0, `${p.label}: ${p.lines.join("\n")}`);
    }
    // The new leader recovered the message from the journal, and delivered
    // it live to userB's session (without write-ahead it knows nothing of
    // it). A `stats` line is read after the lead line it follows.
    for (const n of [n2, n3]) await serverStats(n);
    const lead = [...n2.lines, ...n3.lines].filter((l) =>
      l.includes("leads the chat")
    );
    assertEquals(lead.length, 1, lead.join("\n"));
    assertMatch(lead[0], /, 1 message in flight recovered\.\]$/);
    await exitAll(A, B, C);
  },
});

Deno.test({
  name:
    "the leader killed while a private message it took pending is on its way to a frozen client: shown once after failover, the sender told it was delivered",
  ignore,
  fn: async () => {
    await using nats = await NatsServer.start();
    const { n1, n2, n3, A, B, C } = await threeNodes(nats);
    await using _n2 = n2;
    await using _n3 = n3;
    await using _A = A;
    await using _B = B;
    await using _C = C;
    const text = "private, pending when the leader died";
    B.kill("SIGSTOP");
    const a0 = A.lines.length;
    await A.type(`send userB ${text}`);
    // No ACK from the frozen peer: the message goes to the server, which
    // saves a copy first, then answers `pending` (which prints nothing) and
    // tries itself. The leader's `stats` show the copy once it is saved.
    while ((await serverStats(n1)).offline_messages === 0) {
      // each round waits for the leader's next stats line
    }
    await killNode(n1);
    B.kill("SIGCONT");

    await B.waitFor(/not responding; now using /);
    await B.waitFor("[The server marked you Offline; registering again.]");
    // The copy saved before `pending` is delivered from the offline list.
    await A.waitFor(/^\[Offline Message sent at .* received by userB\]$/, {
      from: a0,
    });
    await A.type("send userB and after the failover");
    await B.waitFor("userA: and after the failover");
    assertEquals(B.count((l) => l.endsWith(text)), 1, B.lines.join("\n"));
    for (const p of [A, C]) assertEquals(p.count(RECOVERY), 0, p.label);
    await exitAll(A, B, C);
  },
});
