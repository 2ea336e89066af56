/**
 * Users and claimed names survive a leader change (issues 10 and 14): two
 * `udpchat -s` nodes share a real `nats-server -js` the test starts; userN
 * claims its name (`--claim`, the passphrase piped as the first line of
 * standard input) through the leader and goes Offline with a message saved
 * for it; the leader is killed with SIGKILL and the other node takes the
 * lead. An impostor without the passphrase, and one with a wrong one, are
 * refused (exit status 5) and receive nothing; the real userN registers
 * with its passphrase and gets its message; an unclaimed Offline user is
 * still in the new leader's table, Offline; a claimed user Online through
 * the other node keeps its session (nothing to sign again), and the clients
 * print no table until something in it changes.
 * Real processes on 127.0.0.1.
 */
import { RECOVERY, startNode } from "./_cluster.ts";
import { assert, assertEquals } from "./_assert.ts";
import { NATS_SKIP_REASON, NatsServer } from "./_nats_server.ts";
import { freePort, Proc } from "./_proc.ts";

if (NATS_SKIP_REASON !== undefined) {
  // deno-lint-ignore no-console
  console.warn(`e2e_claims_failover_test skipped: ${NATS_SKIP_REASON}`);
}

const PASSPHRASE = "correct horse battery staple";
const REFUSED =
  "[Username userN is protected by a passphrase: wrong passphrase, or not claimed in this session.]";

/** A client of `server`; with `passphrase`, `--claim` and it as line one. */
async function startUser(
  name: string,
  server: number,
  options: { passphrase?: string; args?: string[]; label?: string } = {},
): Promise<Proc> {
  const claim = options.passphrase === undefined ? [] : ["--claim"];
  const p = new Proc([
    "-c",
    name,
    "127.0.0.1",
    String(server),
    String(freePort()),
    ...claim,
    ...(options.args ?? []),
  ], { label: options.label ?? name });
  if (options.passphrase !== undefined) await p.type(options.passphrase);
  return p;
}

const online = (name: string) => (l: string) =>
  new RegExp(`'${name}': \\['127\\.0\\.0\\.1', \\d+, 'Online'\\]`).test(l);
const offline = (name: string) => (l: string) =>
  new RegExp(`'${name}': \\['127\\.0\\.0\\.1', \\d+, 'Offline'\\]`).test(l);

Deno.test({
  name:
    "a claimed name survives the leader's SIGKILL: impostors refused and given nothing, the owner gets its saved message",
  ignore: NATS_SKIP_REASON !== undefined,
  fn: async () => {
    await using nats = await NatsServer.start();
    const [p1, p2] = [freePort(), freePort()];
    const n1 = await startNode(p1, nats);
    await n1.waitFor(/^\[Node .* leads the chat/);
    await using n2 = await startNode(p2, nats);
    await n2.waitFor(/^\[Node .* follows the leading node\.\]$/);

    // userN claims its name through the leader; userB (unclaimed) joins too.
    await using N = await startUser("userN", p1, { passphrase: PASSPHRASE });
    await N.waitFor(online("userN"));
    await using B = await startUser("userB", p1);
    await using J = await startUser("userJ", p2, {
      args: ["--keepalive", "1"],
    });
    // userK, claimed too, stays Online through node 2 across the failover.
    await using K = await startUser("userK", p2, {
      passphrase: "userK's own passphrase",
      args: ["--keepalive", "1"],
    });
    await J.waitFor((l) =>
      online("userN")(l) && online("userB")(l) && online("userK")(l)
    );

    // Both go Offline; a message is saved for userN.
    for (const [p, name] of [[N, "userN"], [B, "userB"]] as const) {
      await p.type(`dereg ${name}`);
      await p.waitFor("[You are Offline. Bye.]");
      await p.type("exit");
      assertEquals(await p.status, 0, `${name} exits with 0`);
    }
    await J.waitFor((l) => offline("userN")(l) && offline("userB")(l));
    await J.type("send userN saved for N before the failover");
    await J.waitFor(
      /^\[Offline Message sent at .* received by the server and saved\.\]$/,
    );

    // The leader dies; node 2 leads with what JetStream kept.
    const j0 = J.lines.length;
    const k0 = K.lines.length;
    n1.kill("SIGKILL");
    await n1.status;
    await n1[Symbol.asyncDispose]();
    await n2.waitFor(
      /^\[Node .* leads the chat: 1 stored message restored, 2 sessions kept\.\]$/,
    );
    // userJ and userK keep their sessions and neither registers again; the
    // new leader's table is the one they hold, so they print nothing.
    assertEquals(K.count((l) => l.includes("protected by a passphrase")), 0);

    // Impostors: no passphrase, then a wrong one. Refused, exit 5, nothing.
    for (
      const [label, passphrase] of [
        ["no passphrase", undefined],
        ["wrong passphrase", "tr0ub4dor&3"],
      ] as const
    ) {
      const thief = await startUser("userN", p2, { passphrase, label });
      await thief.waitFor(REFUSED);
      assertEquals(await thief.status, 5, `${label}: exit status 5`);
      assert(
        !thief.lines.some((l) => l.includes("saved for N")),
        thief.lines.join("\n"),
      );
      await thief[Symbol.asyncDispose]();
    }
    assertEquals(n2.count(/saved for N/), 0);

    // The owner, from a new port with its passphrase, gets its message.
    await using back = await startUser("userN", p2, {
      passphrase: PASSPHRASE,
      label: "userN (back)",
    });
    await back.waitFor(/^userJ: .*saved for N before the failover$/);
    await J.waitFor(/^\[Offline Message sent at .* received by userN\]$/);
    // The first table userJ prints since the failover: userN back, userK
    // still Online, the unclaimed userB still there, Offline.
    const t = await J.waitFor(/^\{/, { from: j0 });
    for (const test of [online("userN"), online("userK"), offline("userB")]) {
      assert(test(J.lines[t]), J.lines[t]);
    }

    assertEquals(K.count(/^\[Exiting|not responding/, k0), 0);
    for (const p of [J, K]) assertEquals(p.count(RECOVERY), 0, p.label);
    for (const p of [back, J, K]) {
      await p.type("exit");
      assertEquals(await p.status, 0, `${p.label} exits with 0`);
    }
  },
});
