// deno-lint-ignore-file no-console
/**
 * udpchat's benchmark suite: real server processes driven over loopback by
 * simulated clients, every figure a median next to a same-runtime UDP echo
 * baseline measured in the same run.
 *
 * ```sh
 * deno task bench          # full, a few minutes
 * deno task bench:quick    # smoke run of every measurement
 * ```
 *
 * @module
 */
import { ClientState } from "../client/state.ts";
import { UdpDriver } from "../cli/udp_driver.ts";
import type { OutputEvent } from "../protocol/events.ts";
import {
  freePort,
  serverStats,
  startClient,
  startServer,
} from "../tests/_proc.ts";
import { LightClient, type LightStats, registerAll } from "./_light_client.ts";

const quick = Deno.args.includes("--quick");
// `--only=SECTION` runs one of: latency, rooms, memory, blackbox (for profiling).
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7);
const runs = (section: string) => only === undefined || only === section;
const ROOT = new URL("..", import.meta.url).pathname;
const results: Record<string, unknown> = {
  quick,
  date: new Date().toISOString(),
};
const rows: [string, string, string, string][] = [];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const median = (xs: number[]) => pct(xs, 50);
const ms = (x: number) => `${x.toFixed(x < 1 ? 3 : 1)} ms`;
const tick = () => new Promise((r) => setTimeout(r, 0));

function row(
  what: string,
  value: string,
  baseline: string,
  ratio: string,
): void {
  rows.push([what, value, baseline, ratio]);
  console.log(`  ${what}: ${value}  (baseline ${baseline}, ratio ${ratio})`);
}

// ---- baseline: UDP echo in the same runtime ---------------------------------

async function startEcho(): Promise<{ port: number; proc: Deno.ChildProcess }> {
  const port = freePort();
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "bench/_echo_server.ts", String(port)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = proc.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  proc.stdout.cancel();
  return { port, proc };
}

async function echoRtt(port: number, count: number): Promise<number[]> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const buf = new Uint8Array(65_507);
  const payload = new TextEncoder().encode(
    JSON.stringify({ v: 1, t: "msg", id: 1, text: "x".repeat(60) }),
  );
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await conn.send(payload, { transport: "udp", hostname: "127.0.0.1", port });
    await conn.receive(buf);
    out.push(performance.now() - t);
  }
  conn.close();
  return out;
}

// Requests per second with `inflight` outstanding, each answered by `send`.
async function closedLoop(
  inflight: number,
  seconds: number,
  start: (i: number) => Promise<void>,
  completions: { count: number; wait: () => Promise<void> },
): Promise<number> {
  for (let i = 0; i < inflight; i++) await start(i);
  const t0 = performance.now();
  const c0 = completions.count;
  while (performance.now() - t0 < seconds * 1000) await completions.wait();
  return (completions.count - c0) / ((performance.now() - t0) / 1000);
}

async function echoThroughput(port: number, seconds: number): Promise<number> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const buf = new Uint8Array(65_507);
  const payload = new TextEncoder().encode(
    JSON.stringify({ v: 1, t: "dereg", id: 1, name: "x", tok: "f".repeat(32) }),
  );
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const c = { count: 0, wait: async () => {} };
  c.wait = async () => {
    await conn.receive(buf);
    c.count++;
    await conn.send(payload, to);
  };
  const rate = await closedLoop(
    64,
    seconds,
    () => conn.send(payload, to).then(() => {}),
    c,
  );
  conn.close();
  return rate;
}

// ---- in-process clients with the real state machine -------------------------

interface Real {
  state: ClientState;
  driver: UdpDriver;
  done: Promise<void>;
  next: (test: (e: OutputEvent) => boolean) => Promise<OutputEvent>;
}

async function realClient(name: string, sp: number): Promise<Real> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const state = new ClientState({
    name,
    server: { hostname: "127.0.0.1", port: sp },
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
  });
  const waiters: {
    test: (e: OutputEvent) => boolean;
    resolve: (e: OutputEvent) => void;
  }[] = [];
  const driver = new UdpDriver(conn, state, {
    print: (e) => {
      const i = waiters.findIndex((w) => w.test(e));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(e);
    },
  });
  const done = driver.run();
  const next = (test: (e: OutputEvent) => boolean) =>
    new Promise<OutputEvent>((resolve) => waiters.push({ test, resolve }));
  const ready = next((e) => e.event === "table");
  state.start(Date.now());
  driver.step();
  await ready;
  return { state, driver, done, next };
}

// Resolves once `cond` holds, checked now and after each printed event.
function until(c: Real, cond: () => boolean): Promise<void> {
  return cond() ? Promise.resolve() : c.next(() => cond()).then(() => {});
}

async function sendAckLatency(
  sp: number,
  count: number,
): Promise<{ online: number[]; offline: number[] }> {
  const a = await realClient("benchA", sp);
  const b = await realClient("benchB", sp);
  await until(a, () => a.state.table.some((r) => r[0] === "benchB"));
  const online: number[] = [];
  for (let i = 0; i < count; i++) {
    const got = a.next((e) => e.event === "received");
    const t = performance.now();
    a.state.command(`send benchB ping ${i}`, Date.now());
    a.driver.step();
    await got;
    online.push(performance.now() - t);
  }
  const off = b.next((e) => e.event === "offline");
  b.state.command("dereg benchB", Date.now());
  b.driver.step();
  await off;
  await until(a, () => a.state.table.find((r) => r[0] === "benchB")?.[3] === 0);
  const offline: number[] = [];
  for (let i = 0; i < Math.min(count, 400); i++) {
    const got = a.next((e) => e.event === "saved");
    const t = performance.now();
    a.state.command(`send benchB stored ${i}`, Date.now());
    a.driver.step();
    await got;
    offline.push(performance.now() - t);
  }
  for (const c of [a, b]) {
    await c.driver.close();
    await c.done;
  }
  return { online, offline };
}

// ACKed requests per second: 64 light clients, each with one request in flight
// (an idempotent `dereg` of a user already Offline: decoded, rate-limited,
// checked against the session and the duplicate cache, answered).
async function serverThroughput(sp: number, seconds: number): Promise<number> {
  const stats: LightStats = { largest: 0, received: 0 };
  const clients = Array.from(
    { length: 64 },
    (_, i) => new LightClient(`tp${i}`, sp, stats),
  );
  await registerAll(clients, 10_000);
  const c = { count: 0, wait: async () => {} };
  let pending: Promise<void>[] = [];
  const loop = async (client: LightClient) => {
    for (;;) {
      const acked = client.changed();
      await client.send({
        t: "dereg",
        id: client.nextId(),
        name: client.name,
        tok: client.tok,
      });
      await acked;
      c.count++;
      if (stop) return;
    }
  };
  let stop = false;
  const t0 = performance.now();
  pending = clients.map(loop);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const rate = c.count / ((performance.now() - t0) / 1000);
  stop = true;
  // Unblock the loops, then close.
  for (const cl of clients) {
    await cl.send({ t: "dereg", id: cl.nextId(), name: cl.name, tok: cl.tok });
  }
  await Promise.race([
    Promise.all(pending),
    new Promise((r) => setTimeout(r, 2000)),
  ]);
  await Promise.all(clients.map((cl) => cl.close()));
  return rate;
}

// ---- rooms: registration storm and fan-out -----------------------------------

async function room(n: number, fanoutRuns: number, stormLimitMs: number) {
  const sp = freePort();
  const server = await startServer(sp);
  const stats: LightStats = { largest: 0, received: 0 };
  const clients: LightClient[] = [];
  for (let i = 0; i < n; i++) {
    clients.push(new LightClient(`r${i}`, sp, stats));
    if (i % 256 === 255) await tick();
  }
  const t0 = performance.now();
  const registered = await registerAll(clients, stormLimitMs);
  let converged = 0;
  while (performance.now() - t0 < stormLimitMs) {
    converged = clients.filter((c) => c.online.size === n).length;
    if (converged === n) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const stormMs = performance.now() - t0;
  const s = await serverStats(server, { timeoutMs: 60_000 });
  const storm = {
    n,
    registered,
    converged,
    ms: converged === n ? stormMs : null,
    datagrams: s.out,
    bytes: s.bytes_out,
    largest: stats.largest,
  };
  // Fan-out: one send_all, until the server says every recipient resolved.
  const sender = clients[0];
  const fanout: number[] = [];
  let allAcked = true;
  // (In a room whose tables have not converged, the server is still sending
  // them while the fan-out runs: that load is part of the figure.)
  for (let r = 0; r < fanoutRuns && registered; r++) {
    const k = `${sender.name}:bench:${r}`;
    const before = clients.slice(1).reduce((a, c) => a + c.groupSeen, 0);
    const t = performance.now();
    await sender.send({
      t: "all",
      id: sender.nextId(),
      tok: sender.tok,
      k,
      pi: 0,
      pn: 1,
      text: `fan-out ${r}`,
    });
    for (;;) {
      if (
        sender.notes.some((m) =>
          m.t === "note" && m.k === "done" && m.ref === k
        )
      ) break;
      if (performance.now() - t > 60_000) break;
      await sender.changed();
    }
    fanout.push(performance.now() - t);
    const after = clients.slice(1).reduce((a, c) => a + c.groupSeen, 0);
    if (after - before < n - 1) allAcked = false;
    if (performance.now() - t > 60_000) break;
    if (
      sender.notes.some((m) => m.t === "note" && m.k === "noack" && m.ref === k)
    ) allAcked = false;
  }
  const s2 = await serverStats(server, { timeoutMs: 60_000 });
  await Promise.all(clients.map((c) => c.close()));
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
  return { storm, fanout, allAcked, retransmitted: s2.retransmitted };
}

// ---- memory ---------------------------------------------------------------------

interface MemoryResult {
  base: { rss: number; heap: number };
  users: { users: number; rss: number; heap: number }[];
  offline: {
    messages: number;
    stored: number;
    rssDelta: number;
    heapDelta: number;
  };
}

// The server's state machine in a process of its own, fed registrations and
// stored messages through the real protocol without sockets (see
// _memory_probe.ts); RSS and heap after a full GC.
async function memory(
  users: number[],
  offlineMessages: number,
): Promise<MemoryResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "bench/_memory_probe.ts",
      users.join(","),
      String(offlineMessages),
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

// ---- what a person sees ----------------------------------------------------------

async function blackBox(count: number): Promise<number[]> {
  const sp = freePort();
  const server = await startServer(sp);
  const A = await startClient("boxA", sp, freePort());
  const B = await startClient("boxB", sp, freePort());
  await A.waitFor(/'boxB'/);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const from = A.lines.length;
    const t = performance.now();
    await A.type(`send boxB typed ${i}`);
    await A.waitFor("[Message received by boxB.]", { from });
    out.push(performance.now() - t);
  }
  for (const p of [A, B, server]) {
    p.kill("SIGINT");
    await p.status;
    await p[Symbol.asyncDispose]();
  }
  return out;
}

// ---- the run ------------------------------------------------------------------------

console.log(`udpchat benchmarks${quick ? " (quick)" : ""}`);
const echo = await startEcho();
const rtt = await echoRtt(echo.port, quick ? 200 : 3000);
const echoP50 = median(rtt), echoP99 = pct(rtt, 99);
const echoRates: number[] = [];
for (let r = 0; r < (quick ? 1 : 3); r++) {
  echoRates.push(await echoThroughput(echo.port, quick ? 0.5 : 2));
}
echo.proc.kill("SIGKILL");
await echo.proc.status;
results.echo = {
  rttP50: echoP50,
  rttP99: echoP99,
  throughput: median(echoRates),
};

if (runs("latency")) {
  const sp = freePort();
  const server = await startServer(sp);
  const lat = await sendAckLatency(sp, quick ? 50 : 1000);
  const p50 = median(lat.online), p99 = pct(lat.online, 99);
  row(
    "send → ACK p50",
    ms(p50),
    ms(echoP50) + " echo RTT",
    `${(p50 / echoP50).toFixed(2)}×`,
  );
  row(
    "send → ACK p99",
    ms(p99),
    ms(echoP99) + " echo RTT p99",
    `${(p99 / echoP99).toFixed(2)}×`,
  );
  const off50 = median(lat.offline);
  row(
    "send to Offline → saved p50",
    ms(off50),
    ms(echoP50) + " echo RTT",
    `${(off50 / echoP50).toFixed(2)}×`,
  );
  const rates: number[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    rates.push(await serverThroughput(sp, quick ? 0.5 : 2));
  }
  const rate = median(rates);
  row(
    "server: ACKed requests/s, 64 in flight",
    rate.toFixed(0),
    `${median(echoRates).toFixed(0)} echo/s`,
    `${(rate / median(echoRates)).toFixed(2)}×`,
  );
  results.latency = { p50, p99, offlineP50: off50, serverThroughput: rate };
  server.kill("SIGINT");
  await server.status;
  await server[Symbol.asyncDispose]();
}

const rooms: Record<string, unknown>[] = [];
for (const n of !runs("rooms") ? [] : quick ? [100, 300] : [100, 1000, 10000]) {
  const r = await room(n, quick ? 1 : 3, n >= 10000 ? 30_000 : 20_000);
  const fan = r.fanout.length > 0 ? median(r.fanout) : null;
  rooms.push({
    n,
    stormMs: r.storm.ms,
    converged: r.storm.converged,
    datagrams: r.storm.datagrams,
    bytes: r.storm.bytes,
    largest: r.storm.largest,
    fanoutMs: fan,
    allAcked: r.allAcked,
  });
  row(
    `registration storm N=${n}: converged`,
    r.storm.ms === null
      ? `not converged in ${
        n >= 10000 ? 30 : 20
      } s (${r.storm.converged}/${n} clients complete)`
      : ms(r.storm.ms),
    `${r.storm.datagrams} datagrams, ${
      (r.storm.bytes / 1e6).toFixed(1)
    } MB, largest ${r.storm.largest} B`,
    "-",
  );
  row(
    `send_all fan-out N=${n}: ${r.allAcked ? "all ACKed" : "NOT all ACKed"}`,
    fan === null ? "n/a" : ms(fan),
    ms(echoP50) + " echo RTT",
    fan === null ? "-" : `${(fan / echoP50).toFixed(0)}×`,
  );
}
results.rooms = rooms;

if (runs("memory")) {
  const m = await memory(
    quick ? [2000, 4000] : [10_000, 100_000],
    quick ? 4000 : 100_000,
  );
  for (const u of m.users) {
    row(
      `server memory, ${u.users} registered users`,
      `RSS ${(u.rss / 1e6).toFixed(0)} MB, heap ${
        (u.heap / 1e6).toFixed(1)
      } MB`,
      `RSS ${(m.base.rss / 1e6).toFixed(0)} MB, heap ${
        (m.base.heap / 1e6).toFixed(1)
      } MB empty`,
      `${((u.heap - m.base.heap) / u.users).toFixed(0)} B heap, ${
        ((u.rss - m.base.rss) / u.users).toFixed(0)
      } B RSS per user`,
    );
  }
  row(
    `server memory, +${m.offline.stored} stored messages`,
    `heap +${(m.offline.heapDelta / 1e6).toFixed(1)} MB`,
    "-",
    `${(m.offline.heapDelta / m.offline.stored).toFixed(0)} B heap per message`,
  );
  results.memory = m;
}

if (runs("blackbox")) {
  const box = await blackBox(quick ? 5 : 50);
  row(
    "typed `send` → [Message received] (real processes)",
    ms(median(box)),
    ms(echoP50) + " echo RTT",
    `${(median(box) / echoP50).toFixed(1)}×`,
  );
  results.blackBox = { p50: median(box), p99: pct(box, 99) };
}

console.log(
  "\n| measurement | result | baseline | ratio |\n| --- | --- | --- | --- |",
);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
results.table = rows;
if (!quick) {
  Deno.writeTextFileSync(
    `${ROOT}docs/bench_results.json`,
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log("\nwrote docs/bench_results.json");
}
