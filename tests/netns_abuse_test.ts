// deno-lint-ignore-file no-console
/**
 * Issue 13 end to end: everyone else keeps chatting while a few abuse the
 * server. A network namespace of its own holds, for each attack, a fresh
 * real server (`main.ts -s`) and two real clients (userA, userB) on its
 * 127.0.0.1; after a quiet baseline, while they chat (`send_all` back and
 * forth, each waited for at the other end, a round every 50 ms at most):
 *
 * 1. a flood of `reg` from 10,000 spoofed source addresses (10.77.0.0/16,
 *    raw IPv4/UDP packets with IP_HDRINCL from python3) at about 20,000
 *    datagrams/s; a blackhole route for that range sends the server's
 *    answers nowhere;
 * 2. 40 registered abusers sending endless first parts of 64-part group
 *    messages, one of them a hand-built poison group message (64 parts,
 *    57,600 bytes of text, past the 16 KiB limit);
 * 3. one address (10.78.0.1, not loopback) registering hundreds of names
 *    and filling their mailboxes.
 *
 * Both clients stay up, every message is delivered and their saves are
 * accepted; nobody is marked Offline falsely under any of the attacks (under
 * attack 3 each `send_all` makes about 285 `noack` notices to its sender,
 * which overflowed its socket until notices got a window per sender,
 * `server/notices.ts`), and the name hoarder's host saves no more than its
 * per-host quota (`savesPerHost`). The `send_all` round trips
 * (typed → `[Group Message received by Server.]`, through the clients'
 * stdio) and the server's RSS (`/proc/PID/status`) before, during and after
 * each attack are printed, never asserted.
 *
 * Memory that returns: after each attack stops, the server's `stats` and
 * RSS are sampled once a second until what it holds is quiet and RSS has
 * stopped falling (a bounded count of samples). The `held:` gauges of
 * `stats` must be back at their quiet values (no partial messages, no
 * queued deliveries or notices, nothing awaiting an ACK, an empty send
 * queue); the RSS figures are printed, never asserted.
 *
 * Needs Linux, root, `ip` (iproute2) and python3. Where a namespace cannot
 * be made the test says why and is skipped. The namespace is made by the
 * test and deleted in its `finally`, whatever happens. Every loop is bounded
 * in count and time; traffic stays inside the namespace.
 */
import { assert, assertEquals } from "./_assert.ts";
import { type Proc, serverStats, startClient, startServer } from "./_proc.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/options.ts";

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
  return `udpchat-abuse-${
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

const SPOOFED = "10.77.0.0/16";
const NAMES_HOST = "10.78.0.1";

/** Makes the namespace; throws, saying why, if it cannot. */
function createNamespace(ns: string): void {
  const steps: [string, string[]][] = [
    ["ip", ["netns", "add", ns]],
    ["ip", ["-n", ns, "link", "set", "lo", "up"]],
    // The spoofed sources' answers go nowhere.
    ["ip", ["-n", ns, "route", "add", "blackhole", SPOOFED]],
    // One more address of the namespace's own: not loopback, so the
    // per-host quota applies to it.
    ["ip", ["-n", ns, "addr", "add", `${NAMES_HOST}/32`, "dev", "lo"]],
  ];
  for (const [cmd, args] of steps) {
    const r = run(cmd, args);
    if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.out.trim()}`);
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
  if (!run("python3", ["--version"]).ok) return "python3 is not installed";
  const probe = randomName();
  try {
    createNamespace(probe);
    const raw = run("ip", [
      "netns",
      "exec",
      probe,
      "python3",
      "-c",
      "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)",
    ]);
    if (!raw.ok) return `cannot open a raw socket: ${raw.out.trim()}`;
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
if (skip !== undefined) console.warn(`netns_abuse_test skipped: ${skip}`);

/**
 * The spoofed flood: `reg` datagrams from `sources` addresses of 10.77/16
 * (random source ports) to 127.0.0.1:PORT at `rate`/s, at most `count` of
 * them and for at most `seconds`. Prints `start`, then `sent N in S s`.
 */
const FLOOD_PY = `
import socket, struct, sys, time, random
port, sources, rate, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
dst = socket.inet_aton("127.0.0.1")
def packet(i):
    a = i % sources
    src = socket.inet_aton("10.77.%d.%d" % (a >> 8, a & 255))
    body = ('{"v":1,"t":"reg","id":%d,"name":"spoof%d"}' % (i, a)).encode()
    udp = struct.pack("!HHHH", 1024 + random.randrange(60000), port, 8 + len(body), 0) + body
    # Length and checksum are filled in by the kernel (raw(7)).
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0, 64, 17, 0, src, dst) + udp
print("start", flush=True)
t0 = time.time()
sent = 0
while sent < count and time.time() - t0 < seconds:
    for _ in range(200):
        s.sendto(packet(sent), ("127.0.0.1", 0))
        sent += 1
    ahead = t0 + sent / rate - time.time()
    if ahead > 0:
        time.sleep(ahead)
print("sent %d in %.2f s" % (sent, time.time() - t0), flush=True)
`;

/**
 * The server's resident set in bytes, from /proc/PID/status (read by `cat`:
 * Deno reads /proc only with every permission).
 */
async function rssOf(pid: number): Promise<number> {
  try {
    const r = await new Deno.Command("cat", {
      args: [`/proc/${pid}/status`],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const status = new TextDecoder().decode(r.stdout);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** The pid of the server process (`main.ts -s PORT`) inside `ns`. */
function serverPid(ns: string, port: number): number {
  const seen: string[] = [];
  for (const pid of run("ip", ["netns", "pids", ns]).out.split(/\s+/)) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = run("cat", [`/proc/${pid}/cmdline`]).out.split("\0");
    seen.push(`${pid}: ${argv.join(" ")}`);
    const s = argv.indexOf("-s");
    if (s >= 0 && argv[s + 1] === String(port)) return Number(pid);
  }
  throw new Error(
    `no server process on port ${port} in ${ns}; seen:\n${seen.join("\n")}`,
  );
}

/** Samples a process's RSS every 200 ms until stopped. */
function rssSampler(pid: number): { stop: () => Promise<number[]> } {
  const samples = [rssOf(pid)];
  const timer = setInterval(() => samples.push(rssOf(pid)), 200);
  return {
    stop: () => {
      clearInterval(timer);
      samples.push(rssOf(pid));
      return Promise.all(samples);
    },
  };
}

/** A helper process inside the namespace, its stdout read line by line. */
function spawnIn(
  ns: string,
  cmd: string[],
): { lines: string[]; started: Promise<void>; done: Promise<number> } {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const { promise: started, resolve: onStart } = Promise.withResolvers<
    void
  >();
  const read = (async () => {
    let buf = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        onStart();
      }
    }
    if (buf !== "") lines.push(buf);
    onStart();
  })();
  const err = new Response(child.stderr).text();
  const done = Promise.all([child.status, read, err]).then(([s, , e]) => {
    if (!s.success) console.error(`${cmd.join(" ")}: ${e}`);
    return s.code;
  });
  return { lines, started, done };
}

const GROUP_ACK = "[Group Message received by Server.]";
const SAVED_LONG =
  /^\[Offline Message sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d received by the server and saved\.\]$/;
const SAFETY_MS = 20_000; // against hangs; not a timing assertion
/** Least time between the starts of two chat rounds (two `send_all`s). */
const PACE_MS = 50;

/** Two clients taking turns at `send_all`, each message waited for at the other. */
class Chat {
  rtts: number[] = [];
  sent = 0;
  constructor(readonly a: Proc, readonly b: Proc) {}

  /** One `send_all` from each; the round trips are recorded (ms). */
  async round(tag: string): Promise<void> {
    for (
      const [from, to, name] of [[this.a, this.b, "userA"], [
        this.b,
        this.a,
        "userB",
      ]] as const
    ) {
      const text = `${tag}-${this.sent++}`;
      const f0 = from.lines.length, t0 = to.lines.length;
      const start = performance.now();
      await from.type(`send_all ${text}`);
      await from.waitFor(GROUP_ACK, { from: f0, timeoutMs: SAFETY_MS });
      this.rtts.push(performance.now() - start);
      // Shown live or, if the server gave up on the recipient for a
      // moment, from its offline list: delivered either way (a false
      // Offline mark is checked apart, see `offlineMarks`).
      await to.waitFor(
        (l) =>
          l === `Group Chat ${name}: ${text}` ||
          (l.startsWith(`Group_Chat:${name}: `) && l.endsWith(` ${text}`)),
        { from: t0, timeoutMs: SAFETY_MS },
      );
    }
  }

  /**
   * A round, then the rest of {@linkcode PACE_MS}: people chat, they do not
   * flood (a round trip is measured from its own start, whatever the pace).
   */
  async paced(tag: string): Promise<void> {
    const start = performance.now();
    await this.round(tag);
    const rest = PACE_MS - (performance.now() - start);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }

  /** Rounds until `until` settles (at most `max` rounds); returns the RTTs. */
  async during(
    tag: string,
    until: Promise<unknown>,
    max: number,
  ): Promise<number[]> {
    let over = false;
    until.then(() => (over = true), () => (over = true));
    const from = this.rtts.length;
    for (let i = 0; i < max && !over; i++) await this.paced(tag);
    return this.rtts.slice(from);
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(0)} MB`;
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Most samples taken while the server settles after an attack. */
const SETTLE_SAMPLES = 60;

/** The `held:` gauges of `stats` (and `pending`) that a quiet server has at 0. */
const QUIET_GAUGES = [
  "partials",
  "partial_bytes",
  "deliveries",
  "notices_queued",
  "notices_held",
  "send_queue",
  "pending",
];

/** How the server settled after an attack. */
interface Settled {
  name: string;
  /** RSS at the end of the quiet baseline (bytes). */
  before: number;
  /** Most RSS seen during the attack (bytes). */
  peak: number;
  /** RSS once a second after the attack (bytes). */
  rss: number[];
  /** The last `stats`. */
  stats: Record<string, number>;
}

const quietGauges = (st: Record<string, number>) =>
  Object.fromEntries(QUIET_GAUGES.map((k) => [k, st[k]]));

/**
 * Samples the server's `stats` and RSS once a second after an attack, until
 * its gauges are quiet, the answers it remembered have expired (30 s, the
 * last to go) and RSS has not fallen for three samples, at most
 * {@linkcode SETTLE_SAMPLES} times; then asserts the gauges are quiet.
 */
async function settle(
  s: Scene,
  phase: { name: string; before: number; peak: number },
): Promise<Settled> {
  const rss: number[] = [];
  let stats: Record<string, number> = {};
  let flat = 0;
  for (let i = 0; i < SETTLE_SAMPLES; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    stats = await serverStats(s.server);
    const r = await rssOf(s.pid);
    flat = rss.length > 0 && r >= Math.min(...rss) ? flat + 1 : 0;
    rss.push(r);
    const quiet = QUIET_GAUGES.every((k) => stats[k] === 0) &&
      stats.response_cache === 0 && stats.unproven_buckets === 0;
    if (quiet && flat >= 3) break;
  }
  assertEquals(
    quietGauges(stats),
    Object.fromEntries(QUIET_GAUGES.map((k) => [k, 0])),
    `${phase.name}: what the server holds after it: ${JSON.stringify(stats)}`,
  );
  return { ...phase, rss, stats };
}

function reportSettled(settled: Settled[]): void {
  console.log(
    "\nissue 13, memory that returns (server RSS; sampled once a second after each attack):",
  );
  console.log(
    "| attack | RSS before | RSS peak | RSS settled | lowest after | samples | held after |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const x of settled) {
    const st = x.stats;
    console.log(
      `| ${x.name} | ${mb(x.before)} | ${mb(x.peak)} | ${
        mb(x.rss.at(-1) ?? 0)
      } | ${
        mb(Math.min(...x.rss))
      } | ${x.rss.length} | response_cache=${st.response_cache} proven_sources=${st.proven_sources} unproven_buckets=${st.unproven_buckets} partials=${st.partials} send_queue=${st.send_queue} |`,
    );
    console.log(`  RSS after, once a second: ${x.rss.map(mb).join(", ")}`);
  }
}

interface Phase {
  name: string;
  rtts: number[];
  rss: number[];
  after?: number;
  note: string;
}

function report(phases: Phase[]): void {
  console.log("\nissue 13 under abuse (send_all round trips; server RSS):");
  console.log(
    "| phase | sends | p50 | p99 | max | RSS during (max) | RSS after | notes |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const p of phases) {
    console.log(
      `| ${p.name} | ${p.rtts.length} | ${ms(pct(p.rtts, 50))} | ${
        ms(pct(p.rtts, 99))
      } | ${ms(Math.max(...p.rtts))} | ${mb(Math.max(...p.rss))} | ${
        p.after === undefined ? "" : mb(p.after)
      } | ${p.note} |`,
    );
  }
}

/**
 * Whether a table line shows `name` Offline: the full table
 * (`'userB': ['127.0.0.1', 6001, 'Offline']`) or, in a big room, its
 * summary (`{346 users: ...; changed: userB Offline, ...}`).
 */
function showsOffline(line: string, name: string): boolean {
  if (!line.startsWith("{")) return false;
  return new RegExp(`'${name}': \\['[^']*', \\d+, 'Offline'\\]`).test(line) ||
    new RegExp(`[:,] ${name} Offline\\b`).test(line);
}

/** A server and two chatting clients of their own, for one attack. */
interface Scene {
  server: Proc;
  A: Proc;
  B: Proc;
  pid: number;
  chat: Chat;
}

/**
 * Runs `body` with a fresh server on `port` and userA, userB in the
 * namespace; then checks nobody was marked Offline falsely, and both exit.
 */
async function scene(
  ns: string,
  port: number,
  body: (s: Scene) => Promise<void>,
): Promise<void> {
  const wrap = ["ip", "netns", "exec", ns];
  await using server = await startServer(port, { wrap });
  await using A = await startClient("userA", port, port + 1_000, { wrap });
  await using B = await startClient("userB", port, port + 1_001, { wrap });
  await A.waitFor(/'userB': \['127\.0\.0\.1', \d+, 'Online'\]/);
  const s: Scene = {
    server,
    A,
    B,
    pid: serverPid(ns, port),
    chat: new Chat(A, B),
  };
  try {
    await body(s);
    // Every message was delivered (each round waited for it); both are
    // still up, none gave up on the server.
    assertEquals(s.chat.sent, s.chat.rtts.length);
    for (const c of [A, B]) {
      assertEquals(c.count("[Server not responding.]"), 0, c.label);
    }
  } catch (e) {
    // What the server counted, for the report.
    try {
      console.error(
        JSON.stringify(await serverStats(server, { timeoutMs: 5_000 })),
      );
    } catch (e2) {
      console.error(`no stats: ${e2}`);
    }
    throw e;
  }
  await A.type("exit");
  await B.type("exit");
  assertEquals(await A.status, 0);
  assertEquals(await B.status, 0);
}

/**
 * How often userA or userB was marked Offline falsely: told so by the
 * server (`[The server marked you Offline; ...]`).
 */
function offlineMarks(s: Scene): number {
  return s.A.count("[The server marked you Offline; registering again.]") +
    s.B.count("[The server marked you Offline; registering again.]");
}

/**
 * Nobody was marked Offline falsely: neither client was told so by the
 * server, nor heard that the other did not ACK, and both saw each other
 * Online throughout.
 */
function assertNobodyOffline(s: Scene): void {
  for (const [c, other] of [[s.A, "userB"], [s.B, "userA"]] as const) {
    assertEquals(
      c.count("[The server marked you Offline; registering again.]"),
      0,
      c.label,
    );
    assertEquals(
      c.count(`[No ACK from ${other}, message not delivered.]`),
      0,
      c.label,
    );
    for (const who of ["userA", "userB"]) {
      assertEquals(
        c.lines.filter((l) => showsOffline(l, who)),
        [],
        `${c.label} saw ${who} Offline`,
      );
    }
  }
}

/** `n` paced rounds: a phase with nobody attacking. */
async function calm(s: Scene, name: string, n: number): Promise<Phase> {
  const rss = rssSampler(s.pid);
  const from = s.chat.rtts.length;
  for (let i = 0; i < n; i++) await s.chat.paced(name);
  return {
    name,
    rtts: s.chat.rtts.slice(from),
    rss: await rss.stop(),
    note: "",
  };
}

Deno.test({
  name:
    "under a spoofed reg flood, registered abusers, a poison message and a name hoarder, two clients keep chatting",
  ignore: skip !== undefined,
  async fn() {
    const ns = randomName();
    const denoRun = [Deno.execPath(), "run", "--allow-net"];
    const abuser = new URL("./_netns_abuser.ts", import.meta.url).pathname;
    const phases: Phase[] = [];
    const settled: Settled[] = [];
    try {
      createNamespace(ns);

      // 1. The spoofed flood, after a quiet baseline; then quiet again.
      await scene(ns, 5000, async (s) => {
        const baseline = await calm(s, "quiet baseline", 50);
        phases.push(baseline);
        const flood = spawnIn(ns, [
          "python3",
          "-c",
          FLOOD_PY,
          "5000",
          "10000",
          "20000",
          "160000",
          "8",
        ]);
        await flood.started;
        const rss = rssSampler(s.pid);
        const rtts = await s.chat.during("flood", flood.done, 2_000);
        assertEquals(await flood.done, 0, flood.lines.join("\n"));
        const during = await rss.stop();
        const st = await serverStats(s.server);
        assertEquals(st.users, 2, "no state for spoofed sources");
        assert((st.budget ?? 0) + (st.rate ?? 0) > 0, JSON.stringify(st));
        phases.push({
          name: "spoofed reg flood",
          rtts,
          rss: during,
          after: await rssOf(s.pid),
          note: `${
            flood.lines.at(-1)
          } from 10,000 sources; server: in=${st.in} budget=${
            st.budget ?? 0
          } rate=${st.rate ?? 0} users=${st.users}`,
        });
        settled.push(
          await settle(s, {
            name: "spoofed reg flood",
            before: baseline.rss.at(-1)!,
            peak: Math.max(...during),
          }),
        );
        phases.push(await calm(s, "after the flood", 50));
        assertNobodyOffline(s);
      });

      // 2. Registered abusers sending endless first parts, and a poison.
      await scene(ns, 5001, async (s) => {
        const baseline = await calm(s, "quiet baseline", 25);
        phases.push(baseline);
        const parts = spawnIn(ns, [
          ...denoRun,
          abuser,
          "parts",
          "5001",
          "40",
          "6",
          "400",
        ]);
        const rss = rssSampler(s.pid);
        const rtts = await s.chat.during("parts", parts.done, 2_000);
        assertEquals(await parts.done, 0);
        const during = await rss.stop();
        const p = JSON.parse(parts.lines.at(-1)!);
        assertEquals(p.registered, 40, parts.lines.join("\n"));
        assert(
          p.poisonRefused >= 1,
          `the poison was not refused: ${parts.lines}`,
        );
        const st = await serverStats(s.server);
        assert((st.too_big ?? 0) >= 1, JSON.stringify(st));
        phases.push({
          name: "40 abusers: first parts + poison",
          rtts,
          rss: during,
          after: await rssOf(s.pid),
          note: `${p.sent} parts sent, ${p.answers} ACKed, errors ${
            JSON.stringify(p.errors)
          }; server: partial_evicted=${st.partial_evicted ?? 0} too_big=${
            st.too_big ?? 0
          } rate=${st.rate ?? 0}`,
        });
        settled.push(
          await settle(s, {
            name: "40 abusers: first parts + poison",
            before: baseline.rss.at(-1)!,
            peak: Math.max(...during),
          }),
        );
        assertNobodyOffline(s);
      });

      // 3. One address registers hundreds of names and fills their
      // mailboxes; the others' saves are still accepted.
      await scene(ns, 5002, async (s) => {
        const baseline = await calm(s, "quiet baseline", 25);
        phases.push(baseline);
        const names = spawnIn(ns, [
          ...denoRun,
          abuser,
          "names",
          "5002",
          NAMES_HOST,
          "19",
          "1000",
        ]);
        const rss = rssSampler(s.pid);
        const rtts = await s.chat.during("names", names.done, 2_000);
        assertEquals(await names.done, 0);
        const during = await rss.stop();
        const n = JSON.parse(names.lines.at(-1)!);
        assert(n.registered >= 300, names.lines.join("\n"));
        const st = await serverStats(s.server);
        phases.push({
          name: "one address: 304 names, mailboxes filled",
          rtts,
          rss: during,
          after: await rssOf(s.pid),
          note: `${n.sent} saves sent, ${n.saved} saved, errors ${
            JSON.stringify(n.errors)
          }; server: users=${st.users} offline_messages=${st.offline_messages} quota=${
            st.quota ?? 0
          }; false Offline marks of userA/userB: ${offlineMarks(s)}`,
        });
        settled.push(
          await settle(s, {
            name: "one address: 304 names, mailboxes filled",
            before: baseline.rss.at(-1)!,
            peak: Math.max(...during),
          }),
        );
        assertNobodyOffline(s);
        // One host, many names: its saves stop at its per-host quota.
        assert(
          n.saved <= DEFAULT_SERVER_LIMITS.savesPerHost,
          `${n.saved} saved from one host`,
        );
        assert(
          // Refused as its own limit (`err quota`), not as a full server.
          (n.errors.quota ?? 0) > 0 && (st.quota ?? 0) > 0,
          JSON.stringify(n),
        );
        // userB leaves; userA's messages to it are saved (the notice with
        // the date: a `send` to a user its table shows Offline), never
        // refused, and shown at userB's next login.
        const { A, B } = s;
        const b0 = B.lines.length, a0 = A.lines.length;
        await B.type("dereg userB");
        await B.waitFor("[You are Offline. Bye.]", { from: b0 });
        await A.waitFor((l) => showsOffline(l, "userB"), { from: a0 });
        for (let i = 0; i < 3; i++) await A.type(`send userB kept ${i}`);
        await A.waitForCount(SAVED_LONG, 3, { from: a0 });
        assertEquals(A.count(/not saved/), 0, "a save was refused");
        await B.type("reg userB");
        for (let i = 0; i < 3; i++) {
          await B.waitFor(
            new RegExp(`^userA: \\d\\d:\\d\\d:\\d\\d kept ${i}$`),
            { from: b0, timeoutMs: SAFETY_MS },
          );
        }
      });
      report(phases);
      reportSettled(settled);
    } finally {
      deleteNamespace(ns);
    }
  },
});
