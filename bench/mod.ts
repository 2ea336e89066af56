// deno-lint-ignore-file no-console
/**
 * udpchat's benchmark suite: real server processes (`deno run --allow-net
 * main.ts -s PORT`) driven over 127.0.0.1 by simulated clients, every figure
 * a median next to baselines measured in the same run by the same load
 * generator, sockets, in-flight count and payloads: a minimal UDP echo server
 * in the same runtime (Deno), one in Node's `dgram`, and one in C (compiled
 * here with gcc: the physical floor of the machine's loopback). A ratio to a
 * floor below 1 (faster than doing nothing) would be a bug in the bench.
 *
 * ```sh
 * deno task bench          # full suite, writes docs/bench_results.json
 * deno task bench:rooms    # only the rooms (storm, lookups, fan-out) and floors
 * deno task bench:quick    # every measurement at small sizes, in seconds
 * deno task bench:chart    # docs/bench_growth.svg from the results
 * ```
 *
 * `--only=a,b` runs some sections: latency, transit, throughput, rooms,
 * memory, blackbox, store (the echo baselines always run). `transit`
 * compares requests → ACK with transit sealing against the same run without,
 * and claimed registrations against unclaimed ones (bench/_transit.ts). `--only=store` (`deno task
 * bench:store`) compares `--store memory` with `--store nats://` (a
 * `nats-server -js` it starts; skipped, saying why, when none is installed)
 * and measures table convergence after a server restart; it writes
 * docs/bench_store_results.json.
 *
 * @module
 */
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import { MAX_DATAGRAM_BYTES } from "../protocol/constants.ts";
import { ServerState } from "../server/state.ts";
import {
  closeAll,
  LightClient,
  newTraffic,
  openClients,
  registerAll,
  yieldNow,
} from "./_light_client.ts";
import { closedLoop, type LoadSocket } from "./_load.ts";
import {
  type Child,
  ECHO_LABEL,
  type EchoKind,
  memoryOf,
  startClient,
  startEcho,
  startServer,
} from "./_process.ts";
import { realClient, until } from "./_real_client.ts";
import { room, type RoomRun } from "./_rooms.ts";
import { BenchNats, natsSkipReason } from "./_nats.ts";
import {
  convergence,
  type ConvergenceRun,
  fanout,
  type FanoutRun,
  groupAcks,
  savedLatency,
} from "./_store.ts";
import {
  claimDerivations,
  registrations,
  transitRoundTrips,
} from "./_transit.ts";
import {
  fmtBytes,
  fmtInt,
  fmtMs,
  fmtRatio,
  median,
  percentile,
  sleep,
} from "./_stats.ts";

const quick = Deno.args.includes("--quick");
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7).split(
  ",",
);
const runs = (section: string) => only === undefined || only.includes(section);
const ROOT = new URL("..", import.meta.url).pathname;

const CFG = quick
  ? {
    pings: 300,
    loadSeconds: 0.4,
    loadRuns: 1,
    sends: 60,
    offlineSends: 30,
    transit: { rounds: 60, registrations: 20, derivations: 2 },
    rooms: [{ n: 50, workers: 2 }, { n: 200, workers: 2 }],
    roomCapMs: 20_000,
    fanouts: 2,
    memUsers: [1_000, 3_000],
    heapUsers: 3_000,
    memMessages: 3_000,
    settle: false,
    boxSends: 5,
    store: {
      saves: 30,
      fanoutN: 50,
      fanouts: 2,
      acks: 30,
      clients: 50,
      workers: 1,
      keepaliveMs: 1_000,
      restarts: 1,
      // The restart with NATS only in the full run (time).
      natsConvergence: false,
    },
  }
  : {
    pings: 3_000,
    loadSeconds: 2,
    loadRuns: 3,
    sends: 1_000,
    offlineSends: 300,
    transit: { rounds: 500, registrations: 200, derivations: 5 },
    rooms: [
      { n: 100, workers: 2 },
      { n: 1_000, workers: 3 },
      { n: 10_000, workers: 3 },
    ],
    roomCapMs: 30_000,
    fanouts: 5,
    memUsers: [10_000, 100_000],
    heapUsers: 100_000,
    memMessages: 100_000,
    settle: true,
    boxSends: 50,
    store: {
      saves: 300,
      fanoutN: 1_000,
      fanouts: 5,
      acks: 300,
      clients: 1_000,
      workers: 2,
      keepaliveMs: 1_000,
      restarts: 3,
      natsConvergence: true,
    },
  };
/**
 * Registrations under way at once over all load processes: the server's
 * receive buffer holds about 256 small datagrams (Deno cannot enlarge it);
 * a flood past it is dropped by the kernel and waits out retransmission
 * timeouts.
 */
const REG_WINDOW = 128;
const ECHOES: EchoKind[] = ["deno", "node", "c"];

type Row = [string, string, string, string, string];
const rows: Row[] = [];
const results: Record<string, unknown> = {
  quick,
  date: new Date().toISOString(),
  machine: machine(),
  command: quick
    ? "deno task bench:quick"
    : only?.join(",") === "rooms"
    ? "deno task bench:rooms"
    : only?.join(",") === "store"
    ? "deno task bench:store"
    : "deno task bench",
};
let largestSeen = 0;

function row(
  what: string,
  result: string,
  baseline = "",
  ratio = "",
  target = "",
): void {
  rows.push([what, result, baseline, ratio, target]);
  console.log(
    `  ${what}: ${result}${baseline ? `  [baseline ${baseline}]` : ""}${
      ratio ? `  ${ratio}` : ""
    }${target ? `  target: ${target}` : ""}`,
  );
}

function machine(): Record<string, string | number> {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  const mem = Number(read("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1]);
  return {
    cores: navigator.hardwareConcurrency,
    cpu: read("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "?",
    memoryGiB: Number.isFinite(mem) ? Math.round(mem / 1024 / 1024) : "?",
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: Deno.build.os,
    load: read("/proc/loadavg").split(" ").slice(0, 3).join(" "),
    rmemDefault: read("/proc/sys/net/core/rmem_default").trim(),
  };
}

function met(ok: boolean): string {
  return ok ? "**met**" : "**missed**";
}

/** `x / floor`, flagged when below 1: faster than the floor is a bench bug. */
function vsFloor(x: number, floor: number): string {
  const r = x / floor;
  return Number.isFinite(r)
    ? `${fmtRatio(r)}${r < 1 ? " (BELOW THE FLOOR)" : ""}`
    : "-";
}

// ---- baselines: echo servers driven exactly as udpchat is ---------------------

// One socket, one datagram at a time, 1 ms apart: the same pacing as the
// latency measurements.
async function echoRtt(port: number, count: number): Promise<number[]> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const buf = new Uint8Array(65_507);
  const payload = encodeMessage({
    t: "msg",
    id: 1,
    from: "benchA",
    g: 0,
    k: "benchA:x:1",
    pi: 0,
    pn: 1,
    text: "ping 1",
  });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const out: number[] = [];
  for (let i = 0; i < count + 50; i++) {
    const t = performance.now();
    await conn.send(payload, to);
    await conn.receive(buf);
    if (i >= 50) out.push(performance.now() - t);
    await sleep(1);
  }
  conn.close();
  return out;
}

// The floor of a peer-to-peer `send`: two sockets in this process, one
// echoing, paced as the latency measurement is.
async function peerEchoRtt(count: number): Promise<number[]> {
  const open = () =>
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const a = open(), b = open();
  const bPort = (b.addr as Deno.NetAddr).port;
  const echo = (async () => {
    const buf = new Uint8Array(65_507);
    for (;;) {
      try {
        const [data, from] = await b.receive(buf);
        await b.send(data, from);
      } catch {
        return;
      }
    }
  })();
  const payload = encodeMessage({
    t: "msg",
    id: 1,
    from: "benchA",
    g: 0,
    k: "benchA:x:1",
    pi: 0,
    pn: 1,
    text: "ping 1",
  });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: bPort };
  const buf = new Uint8Array(65_507);
  const out: number[] = [];
  for (let i = 0; i < count + 50; i++) {
    const t = performance.now();
    await a.send(payload, to);
    await a.receive(buf);
    if (i >= 50) out.push(performance.now() - t);
    await sleep(1);
  }
  a.close();
  b.close();
  await echo;
  return out;
}

// The request the load generator sends: a keepalive (`ka`) of an Online
// user (decoded, rate-limited as a proven session, authenticated, answered
// with an ACK carrying the boot id). The echo servers get the same bytes
// from the same light clients.
function keepaliveBytes(tok: string, id: number): Uint8Array {
  return encodeMessage({ t: "ka", id, tok });
}

// The load sockets: light clients, the same class and receive loop whether
// the far end is udpchat or an echo server.
function loadSockets(
  clients: LightClient[],
  isAnswer: (b: Uint8Array) => boolean,
): LoadSocket[] {
  return clients.map((c) => {
    const s: LoadSocket = {
      send: () => c.sendBytes(keepaliveBytes(c.tok, c.nextId())),
    };
    c.raw = (b) => s.onAnswer?.(isAnswer(b));
    return s;
  });
}

// In-process: the server state machine's heap per registered (then Offline)
// user, after a collection (`--v8-flags=--expose-gc`), once its 30 s memory
// of answers has expired.
function stateHeapPerUser(users: number): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return null;
  const server = new ServerState({
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
  });
  gc();
  const before = Deno.memoryUsage().heapUsed;
  let now = 0;
  const host = (i: number) =>
    `127.${1 + (i >> 15)}.${(i >> 7) & 255}.${1 + (i & 127)}`;
  const answer = (t: string) => {
    for (const d of server.datagramsToSend()) {
      const m = decodeMessage(d.bytes);
      if (m.ok && m.message.t === t) return m.message;
    }
    return undefined;
  };
  for (let i = 0; i < users; i++) {
    // 1 ms a user: within the budget of datagrams from unproven sources.
    now += 1;
    const from = { hostname: host(i), port: 40_000 };
    const name = `m${i}`;
    server.receiveDatagram(encodeMessage({ t: "reg", id: 1, name }), from, now);
    const retry = answer("retry");
    if (retry?.t !== "retry") throw new Error(`no retry for ${name}`);
    server.receiveDatagram(
      encodeMessage({ t: "reg", id: 2, name, ck: retry.ck }),
      from,
      now,
    );
    const welcome = answer("welcome");
    if (welcome?.t !== "welcome") throw new Error(`no welcome for ${name}`);
    server.receiveDatagram(
      encodeMessage({ t: "dereg", id: 3, name, tok: welcome.tok }),
      from,
      now,
    );
    server.datagramsToSend();
    if (i % 1_000 === 999) {
      server.handleTimer(now);
      server.datagramsToSend();
    }
  }
  // Past the 30 s memory of answers; one request makes the cache forget.
  now += 31_000;
  server.handleTimer(now);
  server.receiveDatagram(
    encodeMessage({ t: "reg", id: 9, name: "keeper" }),
    { hostname: "127.0.0.1", port: 1 },
    now,
  );
  server.datagramsToSend();
  server.events();
  gc();
  const per = (Deno.memoryUsage().heapUsed - before) / users;
  if (server.stats().users !== users) throw new Error("users missing");
  return per;
}

async function latency(
  count: number,
  offlineCount: number,
): Promise<{ online: number[]; offline: number[] }> {
  const { child, port } = await startServer();
  const a = await realClient("benchA", port);
  const b = await realClient("benchB", port);
  await until(a, () => a.state.table.some((r) => r[0] === "benchB"));
  const online: number[] = [];
  // Paced (1 ms apart) to stay inside a client's per-peer rate limit.
  for (let i = 0; i < count; i++) {
    const got = a.next((e) => e.event === "received");
    const t = performance.now();
    a.state.command(`send benchB ping ${i}`, Date.now());
    a.driver.step();
    await got;
    online.push(performance.now() - t);
    await sleep(1);
  }
  const off = b.next((e) => e.event === "offline");
  b.state.command("dereg benchB", Date.now());
  b.driver.step();
  await off;
  await until(a, () => a.state.table.find((r) => r[0] === "benchB")?.[3] === 0);
  const offline: number[] = [];
  for (let i = 0; i < offlineCount; i++) {
    const got = a.next((e) => e.event === "saved");
    const t = performance.now();
    a.state.command(`send benchB stored ${i}`, Date.now());
    a.driver.step();
    await got;
    offline.push(performance.now() - t);
    await sleep(1);
  }
  for (const c of [a, b]) {
    await c.driver.close();
    await c.done;
  }
  await child.stop();
  return { online, offline };
}

// ---- memory -------------------------------------------------------------------

interface MemServer {
  child: Child;
  keep: LightClient;
  label: string;
  users: number;
  messages: number;
  fresh: { rss: number; peak: number };
  fillSeconds: number;
  readyAt: number;
}

// A real server filled through its socket: `users` users, each from an
// address of its own (127.1.0.1, 127.1.0.2, ...: every loopback address is
// local), registered (reg, cookie, welcome) and then Offline (dereg), so no
// table traffic is left; then `messages` offline messages saved for 1,000
// of them by 256 senders.
async function fillServer(
  label: string,
  users: number,
  messages: number,
): Promise<MemServer> {
  const { child, port } = await startServer();
  const traffic = newTraffic();
  const t0 = performance.now();
  let failed = 0;
  // 128 addresses per /24, from .1 (never .0 or .255), from 127.1.0.1 on.
  const host = (i: number) =>
    `127.${1 + (i >> 15)}.${(i >> 7) & 255}.${1 + (i & 127)}`;
  await Promise.all(Array.from({ length: 256 }, async (_, k) => {
    for (let i = k; i < users; i += 256) {
      const c = new LightClient(`m${i}`, port, traffic, "ignore", host(i));
      if (!await c.register() || !await c.dereg()) failed++;
      await c.close();
    }
  }));
  const regs = messages > 0
    ? await openClients(256, "x", port, traffic, "ignore")
    : [];
  if (messages > 0) {
    await Promise.all(regs.map(async (c, k) => {
      if (!await c.register(`sender${k}`)) {
        failed++;
        return;
      }
      for (let i = k; i < messages; i += regs.length) {
        const r = await c.request({
          t: "save",
          id: c.nextId(),
          tok: c.tok,
          to: `m${i % Math.min(1_000, users)}`,
          k: `sender${k}:${i}`,
          pi: 0,
          pn: 1,
          text: "an offline message of about forty bytes.",
        });
        if (r?.t !== "ack") failed++;
      }
      // Offline before its socket closes: the server stops sending to it.
      await c.dereg();
    }));
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  largestSeen = Math.max(largestSeen, traffic.largestIn, traffic.largestOut);
  if (failed > 0) console.log(`  (${label}: ${failed} requests failed)`);
  await closeAll(regs);
  // Registered (and Offline): its `dereg` later is answered and remembered,
  // which makes the server forget the answers older than 30 s.
  const keep = new LightClient("keeper", port, traffic, "ignore");
  if (!await keep.register() || !await keep.dereg()) {
    console.log(`  (${label}: the keeper did not register)`);
  }
  await sleep(500);
  return {
    child,
    keep,
    label,
    users,
    messages,
    fresh: memoryOf(child.pid),
    fillSeconds,
    readyAt: performance.now(),
  };
}

// After the server's 30 s memory of answers has expired: one request makes
// it forget them; RSS a few seconds later.
async function settled(m: MemServer): Promise<{ rss: number; peak: number }> {
  const wait = 31_000 - (performance.now() - m.readyAt);
  if (wait > 0) await sleep(wait);
  await m.keep.dereg(5_000);
  await sleep(2_000);
  return memoryOf(m.child.pid);
}

// ---- what a person sees ------------------------------------------------------

async function blackBox(count: number): Promise<number[]> {
  const { child, port } = await startServer();
  const a = await startClient("boxA", port);
  const seesB = a.next((l) => l.includes("'boxB'"), 30_000);
  const b = await startClient("boxB", port);
  const out: number[] = [];
  try {
    await seesB;
    for (let i = 0; i < count; i++) {
      const got = a.next((l) => l === "[Message received by boxB.]", 10_000);
      const t = performance.now();
      await a.type(`send boxB typed ${i}`);
      await got;
      out.push(performance.now() - t);
      await sleep(5);
    }
  } finally {
    for (const p of [a, b, child]) await p.stop();
  }
  return out;
}

// ---- the run ---------------------------------------------------------------------

console.log(`udpchat benchmarks${quick ? " (quick)" : ""}`);
console.log(`  machine: ${JSON.stringify(results.machine)}`);
const suiteStart = performance.now();

// Baselines: every echo server, by the same measurements as udpchat.
const echoes = new Map<EchoKind, { child: Child; port: number }>();
for (const kind of ECHOES) echoes.set(kind, await startEcho(kind));
const rtt: Record<string, { p50: number; p99: number }> = {};
for (const kind of ECHOES) {
  const xs = await echoRtt(echoes.get(kind)!.port, CFG.pings);
  rtt[kind] = { p50: median(xs), p99: percentile(xs, 99) };
  row(
    `baseline: ${ECHO_LABEL[kind]} round trip, one socket, p50 / p99`,
    `${fmtMs(rtt[kind].p50)} / ${fmtMs(rtt[kind].p99)}`,
  );
}
const peer = await peerEchoRtt(CFG.pings);
rtt.peer = { p50: median(peer), p99: percentile(peer, 99) };
row(
  "baseline: peer echo round trip, two sockets in one Deno process, p50 / p99",
  `${fmtMs(rtt.peer.p50)} / ${fmtMs(rtt.peer.p99)}`,
);
results.echo = { rtt };

if (runs("latency")) {
  const lat = await latency(CFG.sends, CFG.offlineSends);
  const p50 = median(lat.online), p99 = percentile(lat.online, 99);
  row(
    "`send` → ACK, two clients peer to peer, p50",
    fmtMs(p50),
    `peer echo ${fmtMs(rtt.peer.p50)}; C echo ${fmtMs(rtt.c.p50)}`,
    `${vsFloor(p50, rtt.peer.p50)}; ${vsFloor(p50, rtt.c.p50)}`,
    `≤ 3× peer echo: ${met(p50 <= 3 * rtt.peer.p50)}`,
  );
  row(
    "`send` → ACK, p99",
    fmtMs(p99),
    `peer echo ${fmtMs(rtt.peer.p99)}; C echo ${fmtMs(rtt.c.p99)}`,
    `${vsFloor(p99, rtt.peer.p99)}; ${vsFloor(p99, rtt.c.p99)}`,
  );
  const o50 = median(lat.offline), o99 = percentile(lat.offline, 99);
  row(
    "`send` to an Offline user → saved notice (via the server), p50 / p99",
    `${fmtMs(o50)} / ${fmtMs(o99)}`,
    `Deno echo ${fmtMs(rtt.deno.p50)}; C echo ${fmtMs(rtt.c.p50)}`,
    `${vsFloor(o50, rtt.deno.p50)}; ${vsFloor(o50, rtt.c.p50)}`,
  );
  results.latency = { p50, p99, offlineP50: o50, offlineP99: o99 };
}

if (runs("transit")) {
  const T = CFG.transit;
  const t0 = performance.now();
  const trips = await transitRoundTrips(T.rounds);
  const p = (xs: number[]) => ({ p50: median(xs), p99: percentile(xs, 99) });
  const paths = [
    ["keepalive", "`ka` → ACK"],
    [
      "save",
      "`save` to an Offline user → ACK `saved` (`send` to an Offline user)",
    ],
    ["group", "`send_all` (`all`, 1 Online recipient) → ACK"],
  ] as const;
  const transit: Record<string, unknown> = {};
  for (const [key, what] of paths) {
    const clear = p(trips.clear[key]), sealed = p(trips.sealed[key]);
    row(
      `transit sealing: ${what}, light client ↔ real server, sealed, p50 / p99 (${
        trips.sealed[key].length
      } each)`,
      `${fmtMs(sealed.p50)} / ${fmtMs(sealed.p99)}`,
      `clear (no \`xk\`) ${fmtMs(clear.p50)} / ${fmtMs(clear.p99)}`,
      `sealed/clear p50 ${fmtRatio(sealed.p50 / clear.p50)}; p99 ${
        fmtRatio(sealed.p99 / clear.p99)
      }`,
    );
    transit[key] = { clear, sealed };
  }
  if (trips.clear.lost + trips.sealed.lost > 0) {
    console.log(
      `  transit: not ACKed as expected: clear ${
        JSON.stringify(trips.clear.why)
      }, sealed ${JSON.stringify(trips.sealed.why)}`,
    );
  }
  const regs = await registrations(T.registrations);
  const r = {
    clear: p(regs.clear),
    unclaimed: p(regs.unclaimed),
    claimed: p(regs.claimed),
  };
  row(
    `registration \`reg\` → \`welcome\` (2 round trips, fresh socket), unclaimed with \`xk\` (sealed after), p50 / p99 (${regs.unclaimed.length} each)`,
    `${fmtMs(r.unclaimed.p50)} / ${fmtMs(r.unclaimed.p99)}`,
    `no \`xk\` ${fmtMs(r.clear.p50)} / ${fmtMs(r.clear.p99)}`,
    `p50 ${fmtRatio(r.unclaimed.p50 / r.clear.p50)}; p99 ${
      fmtRatio(r.unclaimed.p99 / r.clear.p99)
    }`,
  );
  row(
    "registration `reg` → `welcome`, claimed (challenge, Ed25519 signature and verification) with `xk`, p50 / p99",
    `${fmtMs(r.claimed.p50)} / ${fmtMs(r.claimed.p99)}`,
    `unclaimed with \`xk\` ${fmtMs(r.unclaimed.p50)} / ${
      fmtMs(r.unclaimed.p99)
    }; no \`xk\` ${fmtMs(r.clear.p50)}`,
    `claimed/unclaimed p50 ${fmtRatio(r.claimed.p50 / r.unclaimed.p50)}; p99 ${
      fmtRatio(r.claimed.p99 / r.unclaimed.p99)
    }; claimed/no \`xk\` p50 ${fmtRatio(r.claimed.p50 / r.clear.p50)}`,
  );
  if (regs.failed > 0) {
    console.log(
      `  transit: ${regs.failed} registrations failed: ${
        JSON.stringify(regs.why)
      }`,
    );
  }
  const derive = await claimDerivations(T.derivations);
  const d50 = median(derive);
  row(
    `\`--claim\` key derivation on the client (PBKDF2-SHA-256, 600,000 rounds, + HKDF), before \`reg\` (median of ${derive.length})`,
    fmtMs(d50),
    `claimed registration ${fmtMs(r.claimed.p50)}`,
    `${fmtRatio(d50 / r.claimed.p50)}`,
  );
  console.log(
    `  transit: section took ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  results.transit = {
    roundTrips: transit,
    lost: { clear: trips.clear.lost, sealed: trips.sealed.lost },
    registration: { ...r, failed: regs.failed, n: regs.claimed.length },
    claimDerivationMs: derive,
  };
}

// Closed-loop rates, the same for every far end: 128 light clients, 64
// requests in flight, the same `dereg` bytes. udpchat's also counts as the
// rate of round trips its server can serve, used as a floor below.
const loopRate: Record<string, number> = {};
{
  const SOCKETS = 128, INFLIGHT = 64;
  const rates: Record<string, number[]> = {};
  let resent = 0;
  const targets: {
    what: string;
    port: number;
    isAnswer: (b: Uint8Array) => boolean;
    clients: LightClient[];
  }[] = [];
  let chatServer: Child | undefined;
  for (const kind of ECHOES) {
    const port = echoes.get(kind)!.port;
    const traffic = newTraffic();
    const clients = await openClients(SOCKETS, "tp", port, traffic, "ignore");
    for (const c of clients) c.tok = "0".repeat(32);
    targets.push({ what: kind, port, isAnswer: () => true, clients });
  }
  if (runs("throughput")) {
    const { child, port } = await startServer();
    chatServer = child;
    const traffic = newTraffic();
    const clients = await openClients(SOCKETS, "tp", port, traffic, "ignore");
    // Online (a room of 128: summaries, ACKed, then quiet).
    for (const c of clients) c.tables = "track";
    await registerAll(clients, 30_000);
    await sleep(1_000);
    // '{"v":1,"t":"ack"': bytes 12 and 13 are "ac".
    targets.push({
      what: "udpchat",
      port,
      isAnswer: (b) => b[12] === 97 && b[13] === 99,
      clients,
    });
  }
  const sockets = new Map(
    targets.map((t) => [t.what, loadSockets(t.clients, t.isAnswer)]),
  );
  for (let r = 0; r < CFG.loadRuns; r++) {
    for (const t of targets) {
      const x = await closedLoop(
        sockets.get(t.what)!,
        INFLIGHT,
        CFG.loadSeconds,
      );
      (rates[t.what] ??= []).push(x.rate);
      if (t.what === "udpchat") resent += x.resent;
    }
  }
  for (const t of targets) {
    loopRate[t.what] = median(rates[t.what]);
    await closeAll(t.clients);
  }
  await chatServer?.stop();
  for (const kind of ECHOES) {
    row(
      `baseline: ${
        ECHO_LABEL[kind]
      }, round trips/s, ${INFLIGHT} in flight over ${SOCKETS} sockets`,
      fmtInt(loopRate[kind]),
    );
  }
  if (loopRate.udpchat !== undefined) {
    const c = loopRate.udpchat;
    row(
      `server: ACKed requests/s, ${INFLIGHT} in flight over ${SOCKETS} sources (same generator)`,
      fmtInt(c),
      `Deno echo ${fmtInt(loopRate.deno)}/s; C echo ${fmtInt(loopRate.c)}/s`,
      `${fmtRatio(c / loopRate.deno)}; ${fmtRatio(c / loopRate.c)}${
        c > loopRate.c ? " (ABOVE THE FLOOR)" : ""
      }`,
      `≥ 0.5× Deno echo: ${met(c >= 0.5 * loopRate.deno)}`,
    );
  }
  results.throughput = {
    rates,
    median: loopRate,
    resent,
    sockets: SOCKETS,
    inflight: INFLIGHT,
  };
}
for (const e of echoes.values()) await e.child.stop();

// Memory servers are filled first, then left idle while the rooms run,
// until their 30 s memory of answers has expired.
const memServers: MemServer[] = [];
let memBase: { rss: number; peak: number } | undefined;
let memEmpty: Child | undefined;
if (runs("memory")) {
  const empty = await startServer();
  memEmpty = empty.child;
  await sleep(500);
  memBase = memoryOf(empty.child.pid);
  for (const users of CFG.memUsers) {
    memServers.push(await fillServer(`${users} users`, users, 0));
    console.log(
      `  memory: ${fmtInt(users)} users registered in ${
        memServers.at(-1)!.fillSeconds.toFixed(1)
      } s`,
    );
  }
  memServers.push(
    await fillServer(
      "messages",
      Math.min(1_000, CFG.memUsers[0]),
      CFG.memMessages,
    ),
  );
  console.log(
    `  memory: ${fmtInt(CFG.memMessages)} messages saved in ${
      memServers.at(-1)!.fillSeconds.toFixed(1)
    } s`,
  );
}

// Rooms: storm, lookups, fan-out, at each N.
const roomResults: (RoomRun & Record<string, unknown>)[] = [];
if (runs("rooms")) {
  const perLoop = (what: string) => loopRate[what] ?? NaN;
  for (const { n, workers } of CFG.rooms) {
    const r = await room(n, {
      workers,
      capMs: CFG.roomCapMs,
      fanouts: CFG.fanouts,
      window: REG_WINDOW,
    });
    largestSeen = Math.max(largestSeen, r.largest);
    // The least a registration needs is two round trips (reg → retry, reg
    // with the cookie → welcome): at the closed-loop rate of each echo.
    const stormFloor = (what: string) => (2 * n / perLoop(what)) * 1000;
    const fanFloor = (what: string) => ((n - 1) / perLoop(what)) * 1000;
    const perUser = (r.serverIn + r.serverOut) / n;
    row(
      `registration storm, N = ${
        fmtInt(n)
      } (${r.workers} load processes): every client knows the room`,
      r.stormMs !== null
        ? `${fmtMs(r.stormMs)} (all welcomed in ${fmtMs(r.registeredMs)}); ${
          fmtInt(r.serverOut)
        } + ${fmtInt(r.serverIn)} datagrams (${perUser.toFixed(1)} per user), ${
          fmtBytes(r.serverBytesOut)
        } sent; ${fmtInt(r.retransmitted)} retransmitted; ${
          fmtInt(r.serverDrops)
        } dropped by the kernel at the server, ${
          fmtInt(r.serverStats.budget ?? 0)
        } shed by its admission budget; lookups ${r.found}/${r.lookups}`
        : `NOT complete in ${
          CFG.roomCapMs / 1000
        } s: ${r.complete}/${n} know the room, ${r.registered} registered`,
      `${fmtInt(2 * n)} round trips: Deno echo ${
        fmtMs(stormFloor("deno"))
      }; C echo ${fmtMs(stormFloor("c"))}`,
      r.stormMs === null
        ? ""
        : `${vsFloor(r.stormMs, stormFloor("deno"))}; ${
          vsFloor(r.stormMs, stormFloor("c"))
        }`,
      n === 10_000
        ? `≤ 10 s: ${
          met(
            r.stormMs !== null && r.stormMs <= 10_000 && r.found === r.lookups,
          )
        }`
        : "",
    );
    const fan = r.fanout.length > 0 ? median(r.fanout) : null;
    row(
      `\`send_all\` fan-out, N = ${
        fmtInt(n)
      }: until every recipient ACKed or saved`,
      r.fanoutAll && fan !== null
        ? `${fmtMs(fan)} (median of ${r.fanout.length}; ${
          fmtMs(Math.min(...r.fanout))
        } to ${fmtMs(Math.max(...r.fanout))}); ${
          fmtInt(r.fanoutRetransmitted)
        } retransmitted, ${fmtInt(r.fanoutDrops)} dropped at the server`
        : `NOT all resolved (${r.noack} noack, ${r.fanout.length} runs)`,
      `${fmtInt(n - 1)} round trips: Deno echo ${
        fmtMs(fanFloor("deno"))
      }; C echo ${fmtMs(fanFloor("c"))}`,
      fan === null
        ? ""
        : `${vsFloor(fan, fanFloor("deno"))}; ${vsFloor(fan, fanFloor("c"))}`,
      n === 10_000
        ? `≤ 0.5 s: ${met(r.fanoutAll && fan !== null && fan <= 500)}`
        : "",
    );
    roomResults.push({
      ...r,
      fanoutMs: fan,
      datagramsPerUser: perUser,
      stormFloorMs: { deno: stormFloor("deno"), c: stormFloor("c") },
      fanoutFloorMs: { deno: fanFloor("deno"), c: fanFloor("c") },
    });
  }
}
results.rooms = roomResults;

if (runs("blackbox")) {
  const box = await blackBox(CFG.boxSends);
  const p50 = median(box), p99 = percentile(box, 99);
  row(
    "typed `send` → `[Message received by X.]`, real processes, p50 / p99",
    `${fmtMs(p50)} / ${fmtMs(p99)}`,
    `peer echo ${fmtMs(rtt.peer.p50)}`,
    vsFloor(p50, rtt.peer.p50),
  );
  results.blackBox = { p50, p99 };
}

if (runs("store")) {
  const S = CFG.store;
  const skip = natsSkipReason();
  if (skip !== undefined) console.log(`  store: NATS part skipped: ${skip}`);
  const stores: [string, string[]][] = [["memory", ["--store", "memory"]]];
  if (skip === undefined) stores.push(["nats", []]);
  // Users, claims and stored messages outlive a server on the same NATS, so
  // each measurement gets an empty nats-server of its own.
  let nats: BenchNats | undefined;
  const argsFor = async (what: string, args: string[]) => {
    if (what !== "nats") return args;
    await nats?.stop();
    nats = await BenchNats.start();
    return ["--store", nats.url];
  };
  const saved: Record<string, number[]> = {};
  const acks: Record<string, number[]> = {};
  const fan: Record<string, FanoutRun> = {};
  const conv: Record<string, ConvergenceRun> = {};
  const offline = Math.round(S.fanoutN / 10);
  const t0 = performance.now();
  try {
    for (const [what, args] of stores) {
      saved[what] = await savedLatency(await argsFor(what, args), S.saves);
      fan[what] = await fanout(
        await argsFor(what, args),
        S.fanoutN,
        offline,
        S.fanouts,
      );
      acks[what] = await groupAcks(await argsFor(what, args), S.acks);
      largestSeen = Math.max(largestSeen, fan[what].largest);
      if (what === "nats" && !S.natsConvergence) {
        console.log("  store: restart with NATS skipped in --quick (time)");
        continue;
      }
      conv[what] = await convergence(await argsFor(what, args), {
        clients: S.clients,
        workers: S.workers,
        keepaliveMs: S.keepaliveMs,
        restarts: S.restarts,
        capMs: 60_000,
      });
    }
  } finally {
    await nats?.stop();
  }
  console.log(
    `  store: section took ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const ratio = (m: number, n: number | undefined) =>
    n === undefined ? "" : `nats/memory ${fmtRatio(n / m)}`;
  const p50 = (what: string) =>
    saved[what] === undefined ? undefined : median(saved[what]);
  const p99 = (what: string) =>
    saved[what] === undefined ? undefined : percentile(saved[what], 99);
  for (const [what] of stores) {
    row(
      `\`--store ${what}\`: \`send\` to an Offline user → saved notice, p50 / p99 (${
        saved[what].length
      } sends)`,
      `${fmtMs(p50(what)!)} / ${fmtMs(p99(what)!)}`,
      what === "memory"
        ? `Deno echo ${fmtMs(rtt.deno.p50)}`
        : `memory ${fmtMs(p50("memory")!)} / ${fmtMs(p99("memory")!)}`,
      what === "memory"
        ? vsFloor(p50(what)!, rtt.deno.p50)
        : `p50 ${ratio(p50("memory")!, p50(what))}; p99 ${
          ratio(p99("memory")!, p99(what))
        }`,
    );
  }
  for (const [what] of stores) {
    const f = fan[what];
    const m = f.times.length > 0 ? median(f.times) : null;
    const mem = fan.memory.times.length > 0 ? median(fan.memory.times) : null;
    row(
      `\`--store ${what}\`: \`send_all\` fan-out, ${
        fmtInt(f.online)
      } Online + ${fmtInt(f.offline)} Offline: until done (ACKed or saved)`,
      f.all && m !== null
        ? `${fmtMs(m)} (median of ${f.times.length}; ${
          fmtMs(Math.min(...f.times))
        } to ${
          fmtMs(Math.max(...f.times))
        }); Online recipients not ACKed in time (so saved) per run: ${
          f.notices.map((x) => x.noack - f.offline).join(", ")
        }`
        : `NOT all resolved (${f.times.length} of ${S.fanouts} runs done; notices ${
          JSON.stringify(f.notices)
        })`,
      what === "memory" ? "" : `memory ${fmtMs(mem)}`,
      what === "memory" || m === null || mem === null ? "" : ratio(mem, m),
    );
  }
  for (const [what] of stores) {
    const a = acks[what];
    const m = a.length > 0 ? median(a) : null;
    const mem = acks.memory.length > 0 ? median(acks.memory) : null;
    row(
      `\`--store ${what}\`: \`send_all\` (1 Online + 1 Offline recipient) → ACK to the sender${
        what === "memory" ? "" : " (journal entry written to JetStream first)"
      }, p50 / p99 (${a.length} sends)`,
      `${fmtMs(m)} / ${fmtMs(a.length > 0 ? percentile(a, 99) : null)}`,
      what === "memory"
        ? `Deno echo ${fmtMs(rtt.deno.p50)}`
        : `memory ${fmtMs(mem)} / ${
          fmtMs(acks.memory.length > 0 ? percentile(acks.memory, 99) : null)
        }`,
      what === "memory"
        ? m === null ? "" : vsFloor(m, rtt.deno.p50)
        : m === null || mem === null
        ? ""
        : `p50 ${ratio(mem, m)}; p99 ${
          ratio(percentile(acks.memory, 99), percentile(a, 99))
        }`,
    );
  }
  for (const what of Object.keys(conv)) {
    const c = conv[what];
    const done = c.fromStart.filter((x): x is number => x !== null);
    const m = done.length > 0 ? median(done) : null;
    row(
      `\`--store ${what}\`: restart with ${
        fmtInt(c.clients)
      } idle clients (keepalive ${
        c.keepaliveMs / 1000
      } s ±25 %): new server's start → every client registered again with the full table`,
      done.length === c.fromStart.length && m !== null
        ? `${fmtMs(m)} (median of ${done.length} restarts; ${
          fmtMs(Math.min(...done))
        } to ${fmtMs(Math.max(...done))}); ${c.exited} clients gave up`
        : `NOT complete within 60 s in ${
          c.fromStart.length - done.length
        } of ${c.fromStart.length} restarts`,
      `server online ${fmtMs(median(c.toOnline))} after its start`,
      what === "memory" || m === null || conv.memory.fromStart.length === 0
        ? ""
        : ratio(
          median(conv.memory.fromStart.filter((x): x is number => x !== null)),
          m,
        ),
    );
  }
  results.store = {
    natsSkipped: skip ?? null,
    saved: Object.fromEntries(
      Object.entries(saved).map((
        [k, xs],
      ) => [k, { p50: median(xs), p99: percentile(xs, 99), n: xs.length }]),
    ),
    fanout: fan,
    groupAcks: Object.fromEntries(
      Object.entries(acks).map((
        [k, xs],
      ) => [k, { p50: median(xs), p99: percentile(xs, 99), n: xs.length }]),
    ),
    convergence: conv,
  };
}

if (memBase !== undefined) {
  const heap = stateHeapPerUser(CFG.heapUsers);
  row(
    `server state machine heap per registered user, ${
      fmtInt(CFG.heapUsers)
    } users (in-process, after GC)`,
    heap === null
      ? "not measured (run with --v8-flags=--expose-gc)"
      : `${fmtInt(heap)} B`,
    "",
    "",
    heap === null || CFG.heapUsers < 100_000
      ? ""
      : `≤ 1 KB: ${met(heap <= 1_000)}`,
  );
  const mem: Record<string, unknown>[] = [];
  for (const m of memServers) {
    const s = CFG.settle ? await settled(m) : undefined;
    const rss = (s ?? m.fresh).rss;
    const delta = rss - memBase.rss;
    const per = m.messages > 0 ? delta / m.messages : delta / m.users;
    const what = m.messages > 0
      ? `server memory, +${fmtInt(m.messages)} stored messages (for ${
        fmtInt(m.users)
      } users)`
      : `server memory, ${fmtInt(m.users)} registered users`;
    row(
      what,
      `RSS ${fmtBytes(rss)}${
        s ? ` (${fmtBytes(m.fresh.rss)} right after filling)` : ""
      }, peak ${fmtBytes(Math.max(m.fresh.peak, s?.peak ?? 0))}`,
      `empty server RSS ${fmtBytes(memBase.rss)}`,
      `${fmtInt(per)} B RSS per ${m.messages > 0 ? "message" : "user"}`,
      m.messages > 0 || m.users < 100_000
        ? ""
        : `≤ 2 KB RSS/user: ${met(per <= 2_000)}`,
    );
    mem.push({
      users: m.users,
      messages: m.messages,
      fillSeconds: m.fillSeconds,
      fresh: m.fresh,
      settled: s ?? null,
      perItem: per,
    });
    await m.keep.close();
    await m.child.stop();
  }
  await memEmpty?.stop();
  results.memory = {
    base: memBase,
    servers: mem,
    heapPerUser: heap,
    heapUsers: CFG.heapUsers,
  };
}

row(
  "largest datagram seen (any direction)",
  `${fmtInt(largestSeen)} B`,
  "",
  "",
  `≤ ${fmtInt(MAX_DATAGRAM_BYTES)} B: ${
    met(largestSeen <= MAX_DATAGRAM_BYTES)
  }`,
);
results.largestDatagram = largestSeen;
const seconds = (performance.now() - suiteStart) / 1000;
results.seconds = seconds;
results.loadAfter = machine().load;

console.log(
  "\n| measurement | result | baseline (same run) | ratio | target |\n| --- | --- | --- | --- | --- |",
);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
console.log(`\n${seconds.toFixed(0)} s in all`);
results.table = rows;
const onlyOne = only?.join(",");
if (
  !quick &&
  (only === undefined || onlyOne === "rooms" || onlyOne === "store")
) {
  const file = only === undefined
    ? `${ROOT}docs/bench_results.json`
    : `${ROOT}docs/bench_${onlyOne}_results.json`;
  Deno.writeTextFileSync(file, JSON.stringify(results, null, 2) + "\n");
  console.log(`wrote ${file.slice(ROOT.length)}`);
}
await yieldNow();
