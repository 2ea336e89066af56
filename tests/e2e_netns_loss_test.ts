/**
 * Real processes and real sockets under real loss: a network namespace whose
 * nftables input hook drops 20% of UDP datagrams at random. A server and
 * three clients run inside it; every message must be shown exactly once.
 * Needs root, `ip` and `nft`; skipped (and says so) where they are missing.
 */
import { assert, assertEquals } from "./_assert.ts";
import { type Proc, startClient, startServer } from "./_proc.ts";

function run(cmd: string, args: string[]): { ok: boolean; err: string } {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" })
      .outputSync();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr) };
  } catch (e) {
    return { ok: false, err: String(e) };
  }
}

const NS = `udpchat-loss-${Deno.pid}`;

function setUp(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root";
  if (!run("ip", ["-V"]).ok) return "ip (iproute2) is not installed";
  if (!run("nft", ["--version"]).ok) return "nft (nftables) is not installed";
  const steps: [string, string[]][] = [
    ["ip", ["netns", "add", NS]],
    ["ip", ["-n", NS, "link", "set", "lo", "up"]],
    ["ip", ["netns", "exec", NS, "nft", "add", "table", "inet", "lossy"]],
    ["ip", [
      "netns",
      "exec",
      NS,
      "nft",
      "add chain inet lossy input { type filter hook input priority 0 ; }",
    ]],
    ["ip", [
      "netns",
      "exec",
      NS,
      "nft",
      "add rule inet lossy input meta l4proto udp numgen random mod 100 < 20 counter drop",
    ]],
  ];
  for (const [cmd, args] of steps) {
    const r = run(cmd, args);
    if (!r.ok) {
      run("ip", ["netns", "del", NS]);
      return `cannot set up the namespace (${cmd} ${
        args.join(" ")
      }): ${r.err.trim()}`;
    }
  }
  return undefined;
}

const skipReason = setUp();
if (skipReason !== undefined) {
  // deno-lint-ignore no-console
  console.warn(`netns loss test skipped: ${skipReason}`);
}

Deno.test({
  name: "under 20% random UDP loss every message is shown exactly once",
  ignore: skipReason !== undefined,
  sanitizeResources: true,
  async fn() {
    const wrap = ["ip", "netns", "exec", NS];
    try {
      const sp = 5000, names = ["userA", "userB", "userC"];
      await using _server = await startServer(sp, { wrap });
      const procs: Proc[] = [];
      for (const [i, name] of names.entries()) {
        procs.push(await startClient(name, sp, 6000 + i, { wrap }));
      }
      // Everyone has the full table before the exchange.
      for (const p of procs) {
        await p.waitFor(/'userC': \['127\.0\.0\.1', 6002, 'Online'\]/, {
          timeoutMs: 30_000,
        });
      }

      const expected = new Map<Proc, string[]>(procs.map((p) => [p, []]));
      let n = 0;
      for (let round = 0; round < 4; round++) {
        for (const [i, p] of procs.entries()) {
          const text = `r${round}-${n++}`;
          if (round % 2 === 0) {
            const to = (i + 1 + round) % 3;
            await p.type(`send ${names[to]} ${text}`);
            expected.get(procs[to])!.push(`${names[i]}: ${text}`);
          } else {
            await p.type(`send_all ${text}`);
            for (const [j, q] of procs.entries()) {
              if (j !== i) {
                expected.get(q)!.push(`Group Chat ${names[i]}: ${text}`);
              }
            }
          }
        }
      }
      for (const [p, lines] of expected) {
        for (const line of lines) {
          // Shown live, or (if the server gave up on it for a moment) from the offline list.
          const [from, text] = line.replace(/^Group Chat /, "").split(": ");
          await p.waitFor(
            (l: string) =>
              l === line ||
              new RegExp(
                `^(Group_Chat:)?${from}: \\d\\d:\\d\\d:\\d\\d ${text}$`,
              ).test(l),
            { timeoutMs: 30_000 },
          );
        }
      }
      for (const [p, lines] of expected) {
        for (const line of lines) {
          const text = line.split(": ")[1];
          assertEquals(
            p.lines.filter((l) =>
              l.endsWith(` ${text}`) || l.endsWith(`: ${text}`)
            ).length,
            1,
            `${p.label}: ${line}`,
          );
        }
      }
      // The loss was real: the rule dropped datagrams.
      const list = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          NS,
          "nft",
          "list",
          "chain",
          "inet",
          "lossy",
          "input",
        ],
        stdout: "piped",
      }).outputSync();
      const dropped = Number(
        /counter packets (\d+)/.exec(new TextDecoder().decode(list.stdout))
          ?.[1] ?? 0,
      );
      assert(dropped > 0, "no datagram was dropped");
      for (const p of procs) {
        await p.type("exit");
        await p.status;
        await p[Symbol.asyncDispose]();
      }
    } finally {
      run("ip", ["netns", "del", NS]);
    }
  },
});
