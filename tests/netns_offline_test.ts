/**
 * A client marked Offline while every datagram to it is dropped notices by
 * itself, with nothing typed (issue "Nothing lost when a server dies", item
 * 5). Real processes in a network namespace of their own: a server and two
 * clients (`ip netns exec NS deno run --allow-net main.ts ...`, over the
 * namespace's 127.0.0.1). nftables drops everything to userA's port; userB's
 * `send_all` cannot reach userA, so the server marks userA Offline and saves
 * the message for it, and the notice of that is dropped too. Then the rule
 * goes: userA, whose keepalive runs every second (`--keepalive 1`), learns
 * from the answer to its next keepalive that it was marked Offline, prints
 * `[The server marked you Offline; registering again.]`, registers again
 * and gets the saved group message; userB is told it was delivered.
 *
 * Needs Linux, root, `ip` (iproute2) and `nft` (nftables). Where a namespace
 * cannot be made the test says why and is skipped. The namespace is made by
 * the test and deleted in its `finally`, whatever happens.
 */
import { assert, assertEquals } from "./_assert.ts";
import { startClient, startServer } from "./_proc.ts";

/** Runs a command to its end. */
function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const text = new TextDecoder();
    return {
      ok: r.success,
      out: text.decode(r.stdout) + text.decode(r.stderr),
    };
  } catch (e) {
    return { ok: false, out: String(e) };
  }
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `udpchat-${
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** Runs `nft ARGS...` in the namespace; throws, saying why, if it fails. */
function nft(ns: string, ...args: string[]): void {
  const r = run("ip", ["netns", "exec", ns, "nft", ...args]);
  if (!r.ok) throw new Error(`nft ${args.join(" ")}: ${r.out.trim()}`);
}

/**
 * Makes the namespace with an empty input chain (`inet outage input`);
 * throws, saying why, if it cannot.
 */
function createNamespace(ns: string): void {
  for (
    const args of [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]]
  ) {
    const r = run("ip", args);
    if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.out.trim()}`);
  }
  nft(ns, "add", "table", "inet", "outage");
  nft(
    ns,
    "add",
    "chain",
    "inet",
    "outage",
    "input",
    "{ type filter hook input priority 0; }",
  );
}

/** From now on every UDP datagram to `port` is dropped. */
function dropTo(ns: string, port: number): void {
  nft(
    ns,
    ..."add rule inet outage input udp dport".split(" "),
    String(port),
    "counter",
    "drop",
  );
}

/** Datagrams the rule dropped so far. */
function dropped(ns: string): number {
  const r = run("ip", [
    "netns",
    "exec",
    ns,
    "nft",
    "list",
    "chain",
    "inet",
    "outage",
    "input",
  ]);
  return Number(/counter packets (\d+)/.exec(r.out)?.[1] ?? 0);
}

/** Nothing is dropped from now on. */
function stopDropping(ns: string): void {
  nft(ns, "flush", "chain", "inet", "outage", "input");
}

function deleteNamespace(ns: string): void {
  run("ip", ["netns", "del", ns]);
}

/** Why the test cannot run here, if it cannot: tried once, left clean. */
function cannotRun(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root";
  if (!run("ip", ["-V"]).ok) return "ip (iproute2) is not installed";
  if (!run("nft", ["--version"]).ok) return "nft (nftables) is not installed";
  const probe = randomName();
  try {
    createNamespace(probe);
    dropTo(probe, 6000);
    stopDropping(probe);
  } catch (e) {
    return `cannot make a network namespace with nftables rules: ${
      e instanceof Error ? e.message : e
    }`;
  } finally {
    deleteNamespace(probe);
  }
  return undefined;
}

const skip = cannotRun();
if (skip !== undefined) {
  // deno-lint-ignore no-console
  console.warn(`netns_offline_test skipped: ${skip}`);
}

const REJOIN = "[The server marked you Offline; registering again.]";
const SAFETY_MS = 30_000; // against hangs; not a timing assertion

Deno.test({
  name:
    "a client marked Offline while its notices are dropped registers again by itself, nothing typed, and gets what was saved",
  ignore: skip !== undefined,
  async fn() {
    const ns = randomName();
    try {
      createNamespace(ns);
      const wrap = ["ip", "netns", "exec", ns];
      const [serverPort, aPort, bPort] = [5000, 6000, 6001];
      await using server = await startServer(serverPort, { wrap });
      await using A = await startClient("userA", serverPort, aPort, {
        wrap,
        args: ["--keepalive", "1"],
      });
      await using B = await startClient("userB", serverPort, bPort, { wrap });
      const both =
        `{'userA': ['127.0.0.1', ${aPort}, 'Online'], 'userB': ['127.0.0.1', ${bPort}, 'Online']}`;
      await A.waitFor(both, { timeoutMs: SAFETY_MS });

      // The outage: nothing reaches userA, which goes on believing itself
      // Online. The group message cannot be delivered to it: the server
      // marks it Offline, saves the message and tells userB so.
      dropTo(ns, aPort);
      const a0 = A.lines.length;
      const b0 = B.lines.length;
      await B.type("send_all are you there?");
      await B.waitFor("[No ACK from userA, message not delivered.]", {
        from: b0,
        timeoutMs: SAFETY_MS,
      });
      const saved = await B.waitFor(
        /^\[Offline Message sent at \d\d:\d\d:\d\d received by the server and saved\.\]$/,
        { from: b0, timeoutMs: SAFETY_MS },
      );
      const clock = B.lines[saved].slice(25, 33);
      await B.waitFor(
        `{'userA': ['127.0.0.1', ${aPort}, 'Offline'], 'userB': ['127.0.0.1', ${bPort}, 'Online']}`,
        { from: b0, timeoutMs: SAFETY_MS },
      );
      assertEquals(A.lines.slice(a0), [], "userA heard nothing");
      assert(dropped(ns) > 0, "the rule dropped nothing");

      // The outage ends; nobody types anything.
      stopDropping(ns);
      const r = await A.waitFor(REJOIN, { from: a0, timeoutMs: SAFETY_MS });
      await A.waitFor(`Group_Chat:userB: ${clock} are you there?`, {
        from: r,
        timeoutMs: SAFETY_MS,
      });
      assertEquals(A.lines.slice(a0), [
        REJOIN,
        "[Client table updated.]",
        both,
        "[You have offline messages:]",
        `Group_Chat:userB: ${clock} are you there?`,
      ]);
      await B.waitFor(`[Offline Message sent at ${clock} received by userA]`, {
        from: b0,
        timeoutMs: SAFETY_MS,
      });
      await B.waitFor(both, { from: saved, timeoutMs: SAFETY_MS });
      assertEquals(A.count(REJOIN), 1, "one line, once");

      for (const p of [A, B]) {
        await p.type("exit");
        assertEquals(await p.status, 0, `${p.label} exits with 0`);
      }
      server.kill("SIGINT");
      assertEquals(await server.status, 0);
    } finally {
      deleteNamespace(ns);
    }
  },
});
