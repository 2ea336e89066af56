/**
 * No byte of a private message's text on the wire (issue 14): real processes
 * in a network namespace of their own (`ip netns exec NS ...`, over the
 * namespace's 127.0.0.1) while `tcpdump -i lo` captures every UDP datagram.
 * userA (unclaimed) sends to userB (claimed: `--claim`, the passphrase piped
 * as the first line of standard input) peer to peer; userB goes Offline
 * (`dereg`), userA sends again (saved sealed, as userB's name is claimed:
 * protocol/README.md, "Sealed private messages"), and userB comes back
 * (`reg`) and is shown it from its offline list. Both texts are shown, and
 * neither's UTF-8 appears anywhere in the raw capture.
 *
 * Needs Linux, root, `ip` (iproute2) and `tcpdump`. Where a namespace cannot
 * be made the test says why and is skipped. The namespace is made by the
 * test and deleted in its `finally`; tcpdump is stopped with SIGINT and
 * waited for.
 */
import { assert, assertEquals } from "./_assert.ts";
import { Proc, startServer } from "./_proc.ts";

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

/** Makes the namespace with its loopback up; throws, saying why, if it cannot. */
function createNamespace(ns: string): void {
  for (
    const args of [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]]
  ) {
    const r = run("ip", args);
    if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.out.trim()}`);
  }
}

function deleteNamespace(ns: string): void {
  run("ip", ["netns", "del", ns]);
}

/** Why the test cannot run here, if it cannot: tried once, left clean. */
function cannotRun(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root";
  if (!run("ip", ["-V"]).ok) return "ip (iproute2) is not installed";
  if (!run("tcpdump", ["--version"]).ok) return "tcpdump is not installed";
  const probe = randomName();
  try {
    createNamespace(probe);
  } catch (e) {
    return `cannot make a network namespace: ${
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
  console.warn(`netns_capture_test skipped: ${skip}`);
}

const SAFETY_MS = 60_000; // against hangs; not a timing assertion

/** tcpdump in the namespace, writing every UDP datagram on `lo` to `file`. */
async function startCapture(
  ns: string,
  file: string,
): Promise<{ child: Deno.ChildProcess; stopped: () => Promise<string> }> {
  const child = new Deno.Command("ip", {
    args: [
      ..."netns exec".split(" "),
      ns,
      ..."tcpdump -i lo --immediate-mode -U -w".split(" "),
      file,
      "udp",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // tcpdump says `listening on lo` once it captures; its stderr is read to
  // the end, so that it never blocks on a full pipe.
  let stderr = "";
  let listening: () => void = () => {};
  const ready = new Promise<void>((resolve) => listening = resolve);
  const read = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr += decoder.decode(chunk, { stream: true });
      if (stderr.includes("listening on")) listening();
    }
    listening();
  })();
  await ready;
  if (!stderr.includes("listening on")) {
    await child.status;
    throw new Error(`tcpdump did not start: ${stderr}`);
  }
  return {
    child,
    stopped: async () => {
      child.kill("SIGINT");
      const status = await child.status;
      await read;
      assert(status.success, `tcpdump: ${stderr}`);
      return stderr;
    },
  };
}

/** Whether `needle` occurs in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

/** A client started with `--claim`, its passphrase the first stdin line. */
async function startClaimed(
  name: string,
  ports: { server: number; client: number },
  options: { wrap: string[]; passphrase: string },
): Promise<Proc> {
  const p = new Proc([
    "-c",
    name,
    "127.0.0.1",
    String(ports.server),
    String(ports.client),
    "--claim",
  ], { label: name, wrap: options.wrap });
  await p.type(options.passphrase);
  await p.waitFor(/^\{/, { timeoutMs: SAFETY_MS });
  return p;
}

Deno.test({
  name:
    "a private message, peer to peer and saved for a claimed Offline user, and group messages, relayed and stored, never appear in a loopback capture",
  ignore: skip !== undefined,
  async fn() {
    const ns = randomName();
    const file = await Deno.makeTempFile({ suffix: ".pcap" });
    let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
    try {
      createNamespace(ns);
      const wrap = ["ip", "netns", "exec", ns];
      capture = await startCapture(ns, file);
      const [serverPort, aPort, bPort] = [5000, 6000, 6001];
      await using server = await startServer(serverPort, { wrap });
      await using A = await startClaimedOrPlain("userA", {
        server: serverPort,
        client: aPort,
      }, wrap);
      await using B = await startClaimed("userB", {
        server: serverPort,
        client: bPort,
      }, { wrap, passphrase: "correct horse battery staple" });
      const both =
        `{'userA': ['127.0.0.1', ${aPort}, 'Online'], 'userB': ['127.0.0.1', ${bPort}, 'Online']}`;
      await A.waitFor(both, { timeoutMs: SAFETY_MS });

      // Peer to peer.
      const live = "peer secret Zq7x the eagle lands at dawn";
      let a0 = A.lines.length;
      await A.type(`send userB ${live}`);
      await B.waitFor(`userA: ${live}`, { timeoutMs: SAFETY_MS });
      await A.waitFor("[Message received by userB.]", {
        from: a0,
        timeoutMs: SAFETY_MS,
      });

      // A group message, relayed by the server: sealed in transit both ways.
      const group = "group secret Hv5n the owl sings at noon";
      a0 = A.lines.length;
      await A.type(`send_all ${group}`);
      await B.waitFor(`Group Chat userA: ${group}`, { timeoutMs: SAFETY_MS });
      await A.waitFor("[Group Message received by Server.]", {
        from: a0,
        timeoutMs: SAFETY_MS,
      });

      // To userB Offline: saved sealed (its name is claimed).
      await B.type("dereg userB");
      await A.waitFor(
        `{'userA': ['127.0.0.1', ${aPort}, 'Online'], 'userB': ['127.0.0.1', ${bPort}, 'Offline']}`,
        { timeoutMs: SAFETY_MS },
      );
      const saved = "saved secret Kw3v meet under the old bridge";
      a0 = A.lines.length;
      await A.type(`send userB ${saved}`);
      await A.waitFor(
        /^\[Offline Message sent at .* received by the server and saved\.\]$/,
        { from: a0, timeoutMs: SAFETY_MS },
      );
      // A group message stored for userB while it is Offline.
      const groupSaved = "stored group secret Pj8c the tide turns twice";
      a0 = A.lines.length;
      await A.type(`send_all ${groupSaved}`);
      await A.waitFor("[Group Message received by Server.]", {
        from: a0,
        timeoutMs: SAFETY_MS,
      });

      // Their delivery on `reg`.
      const b0 = B.lines.length;
      await B.type("reg userB");
      await B.waitFor("[You have offline messages:]", {
        from: b0,
        timeoutMs: SAFETY_MS,
      });
      await B.waitFor((l) => l.startsWith("userA: ") && l.endsWith(saved), {
        from: b0,
        timeoutMs: SAFETY_MS,
      });
      await B.waitFor((l) => l.includes("userA") && l.endsWith(groupSaved), {
        from: b0,
        timeoutMs: SAFETY_MS,
      });
      await A.waitFor(/^\[Offline Message sent at .* received by userB\]$/, {
        from: a0,
        timeoutMs: SAFETY_MS,
      });

      for (const p of [A, B]) {
        await p.type("exit");
        assertEquals(await p.status, 0, `${p.label} exits with 0`);
      }
      server.kill("SIGINT");
      assertEquals(await server.status, 0);
      const said = await capture.stopped();
      capture = undefined;

      const pcap = await Deno.readFile(file);
      const utf8 = new TextEncoder();
      // The capture saw the chat: names and table rows travel in clear.
      assert(contains(pcap, utf8.encode('"userB"')), `capture empty: ${said}`);
      for (const text of [live, saved, group, groupSaved]) {
        assert(!contains(pcap, utf8.encode(text)), `"${text}" captured`);
      }
      // Nor any of their unusual words on its own.
      for (
        const word of [
          ...["Zq7x", "eagle", "dawn", "Kw3v", "bridge"],
          ...["Hv5n", "owl sings", "Pj8c", "tide turns"],
        ]
      ) {
        assert(!contains(pcap, utf8.encode(word)), `"${word}" captured`);
      }
    } finally {
      if (capture !== undefined) {
        capture.child.kill("SIGINT");
        await capture.child.status;
      }
      deleteNamespace(ns);
      await Deno.remove(file).catch(() => {});
    }
  },
});

/** An unclaimed client (no passphrase). */
async function startClaimedOrPlain(
  name: string,
  ports: { server: number; client: number },
  wrap: string[],
): Promise<Proc> {
  const p = new Proc([
    "-c",
    name,
    "127.0.0.1",
    String(ports.server),
    String(ports.client),
  ], { label: name, wrap });
  await p.waitFor(/^\{/, { timeoutMs: SAFETY_MS });
  return p;
}
