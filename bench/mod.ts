// deno-lint-ignore-file no-console
/**
 * udpchat's benchmark suite: real server processes (`deno run --allow-net
 * main.ts -s PORT`) driven over 127.0.0.1 by simulated clients, every figure
 * a median next to a baseline measured in the same run (a minimal UDP echo
 * server in the same runtime), so that the ratios hold on a noisy machine.
 *
 * ```sh
 * deno task bench          # full suite, writes docs/bench_results.json
 * deno task bench:quick    # every measurement at small sizes, in seconds
 * deno task bench:chart    # docs/bench_growth.svg from the results
 * ```
 *
 * `--only=a,b` runs some sections: latency, throughput, storm, fanout,
 * memory, blackbox (the echo baselines always run).
 *
 * @module
 */
import { ClientState } from "../client/state.ts";
import { UdpDriver } from "../runtime/udp_driver.ts";
import { encodeMessage } from "../protocol/codec.ts";
import { MAX_DATAGRAM_BYTES } from "../protocol/constants.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import type { ClientEvent } from "../client/mod.ts";
import type { NoteMessage } from "../protocol/messages.ts";
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
  memoryOf,
  serverStats,
  startClient,
  startEcho,
  startServer,
} from "./_process.ts";
import {
  fmtBytes,
  fmtInt,
  fmtMs,
  fmtRatio,
  median,
  percentile,
  sleep,
  within,
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
    storms: [{ n: 50, runs: 1, capMs: 15_000 }, {
      n: 200,
      runs: 1,
      capMs: 15_000,
    }],
    fanouts: [{ n: 50, runs: 2 }, { n: 200, runs: 2 }],
    memUsers: [1_000, 3_000],
    memMessages: 3_000,
    settle: false,
    boxSends: 5,
  }
  : {
    pings: 3_000,
    loadSeconds: 2,
    loadRuns: 3,
    sends: 1_000,
    offlineSends: 300,
    storms: [
      { n: 100, runs: 3, capMs: 20_000 },
      { n: 1_000, runs: 3, capMs: 30_000 },
      { n: 3_000, runs: 1, capMs: 30_000 },
      { n: 10_000, runs: 1, capMs: 45_000 },
    ],
    fanouts: [
      { n: 100, runs: 5 },
      { n: 1_000, runs: 5 },
      { n: 3_000, runs: 5 },
      { n: 10_000, runs: 5 },
    ],
    memUsers: [10_000, 100_000],
    memMessages: 100_000,
    settle: true,
    boxSends: 50,
  };

type Row = [string, string, string, string, string];
const rows: Row[] = [];
const results: Record<string, unknown> = {
  quick,
  date: new Date().toISOString(),
  machine: machine(),
  command: quick ? "deno task bench:quick" : "deno task bench",
};
let largestSeen = 0;
// The echo server's request rate, once measured.
let echoRate = 0;

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
  };
}

function met(ok: boolean): string {
  return ok ? "**met**" : "**missed**";
}

// ---- baselines: the same runtime's UDP echo ---------------------------------

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
  }
  conn.close();
  return out;
}

// The raw rate at which this runtime sends 1,100-byte datagrams from one
// socket: a lower bound on any transfer's duration.
async function rawSendRate(seconds: number): Promise<number> {
  const sink = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const to = {
    transport: "udp" as const,
    hostname: "127.0.0.1",
    port: (sink.addr as Deno.NetAddr).port,
  };
  const bytes = new Uint8Array(1_100);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < 256; i++) await conn.send(bytes, to);
    n += 256;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  conn.close();
  sink.close();
  return rate;
}

// The request the load generator sends: an idempotent `dereg` of a user
// already Offline (decoded, rate-limited, checked against the duplicate cache
// and the session, answered with an ACK). The echo gets the same bytes.
function deregBytes(name: string, tok: string, id: number): Uint8Array {
  return encodeMessage({ t: "dereg", id, name, tok });
}

function echoSockets(port: number, count: number) {
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const sockets: (LoadSocket & { close(): Promise<void> })[] = [];
  for (let i = 0; i < count; i++) {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const s: LoadSocket & { close(): Promise<void> } = {
      send: async (seq) => {
        try {
          await conn.send(deregBytes(`tp${i}`, "0".repeat(32), seq), to);
        } catch {
          // Closed.
        }
      },
      close: async () => {
        conn.close();
        await loop;
      },
    };
    const loop = (async () => {
      const buf = new Uint8Array(65_507);
      for (;;) {
        try {
          await conn.receive(buf);
        } catch {
          return;
        }
        s.onAnswer?.(true);
      }
    })();
    sockets.push(s);
  }
  return sockets;
}

// ---- in-process clients with the real state machine -------------------------

interface Real {
  state: ClientState;
  driver: UdpDriver<ClientEvent>;
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
    print: (event) => {
      const e = describeClientEvent(event);
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

function until(c: Real, cond: () => boolean): Promise<void> {
  return cond() ? Promise.resolve() : c.next(() => cond()).then(() => {});
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

// ---- rooms --------------------------------------------------------------------

interface StormRun {
  n: number;
  ms: number | null;
  registeredMs: number;
  registered: number;
  converged: number;
  rowsKnown: number;
  serverOut: number;
  serverBytesOut: number;
  serverIn: number;
  serverBytesIn: number;
  retransmitted: number;
  largest: number;
}

// N light clients register at once and ACK every table datagram; the time
// until every one holds all N users Online.
async function storm(n: number, capMs: number): Promise<StormRun> {
  const { child, port } = await startServer();
  const traffic = newTraffic();
  const clients = await openClients(n, "s", port, traffic, "track");
  const complete = new Set<LightClient>();
  const { promise: allComplete, resolve } = Promise.withResolvers<void>();
  for (const c of clients) {
    c.onTable = (c) => {
      if (c.online.size === n && !complete.has(c)) {
        complete.add(c);
        if (complete.size === n) resolve();
      }
    };
  }
  const t0 = performance.now();
  let registeredMs = NaN;
  const registering = registerAll(clients, capMs).then((k) => {
    registeredMs = performance.now() - t0;
    return k;
  });
  await within(allComplete, capMs);
  const ms = complete.size === n ? performance.now() - t0 : null;
  let rowsKnown = 0;
  for (const c of clients) rowsKnown += c.online.size;
  const s = await serverStats(child);
  await closeAll(clients);
  const registered = await registering;
  await child.stop();
  largestSeen = Math.max(largestSeen, traffic.largestIn, traffic.largestOut);
  return {
    n,
    ms,
    registeredMs,
    registered,
    converged: complete.size,
    rowsKnown,
    serverOut: s.out,
    serverBytesOut: s.bytes_out,
    serverIn: s.in,
    serverBytesIn: s.bytes_in,
    retransmitted: s.retransmitted,
    largest: Math.max(traffic.largestIn, traffic.largestOut),
  };
}

interface FanRun {
  n: number;
  registered: number;
  times: number[];
  allAcked: boolean;
  noack: number;
  retransmitted: number;
}

// N light clients (tables ignored: this measures the delivery path) register;
// one sends `send_all` several times; each time, until the server's `done`
// notice says every recipient has ACKed or had it saved.
async function fanOut(n: number, count: number): Promise<FanRun> {
  const { child, port } = await startServer();
  const traffic = newTraffic();
  const clients = await openClients(n, "f", port, traffic, "ignore");
  const registered = await registerAll(clients, 60_000);
  await sleep(1_000);
  const sender = clients[0];
  const times: number[] = [];
  let allAcked = registered === n;
  let noack = 0;
  const before = await serverStats(child);
  for (let r = 0; r < count && allAcked; r++) {
    const k = `${sender.name}:bench:${r}`;
    const seen0 = clients.reduce((a, c) => a + c.groupSeen, 0);
    const { promise: done, resolve } = Promise.withResolvers<void>();
    sender.onNote = (m: NoteMessage) => {
      if (m.ref !== k) return;
      if (m.k === "noack") noack++;
      if (m.k === "done") resolve();
    };
    const t = performance.now();
    sender.request({
      t: "all",
      id: sender.nextId(),
      tok: sender.tok,
      k,
      pi: 0,
      pn: 1,
      text: `fan-out ${r}`,
    });
    const finished = await within(done, 30_000);
    times.push(performance.now() - t);
    const seen = clients.reduce((a, c) => a + c.groupSeen, 0) - seen0;
    if (!finished || seen < n - 1 || noack > 0) allAcked = false;
    await sleep(300);
  }
  const after = await serverStats(child);
  await closeAll(clients);
  await child.stop();
  largestSeen = Math.max(largestSeen, traffic.largestIn, traffic.largestOut);
  return {
    n,
    registered,
    times,
    allAcked,
    noack,
    retransmitted: after.retransmitted - before.retransmitted,
  };
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

const echo = await startEcho();
const rtt = await echoRtt(echo.port, CFG.pings);
const echoP50 = median(rtt), echoP99 = percentile(rtt, 99);
const rawRate = await rawSendRate(quick ? 0.2 : 1);
row(
  "baseline: UDP echo round trip (same runtime), p50 / p99",
  `${fmtMs(echoP50)} / ${fmtMs(echoP99)}`,
);
row("baseline: raw UDP sends/s, one socket, 1,100 B", fmtInt(rawRate));
results.echo = { rttP50: echoP50, rttP99: echoP99, rawSendRate: rawRate };

// Memory servers are filled first, then left idle while the other sections
// run, until their 30 s memory of answers has expired.
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

if (runs("latency")) {
  const lat = await latency(CFG.sends, CFG.offlineSends);
  const p50 = median(lat.online), p99 = percentile(lat.online, 99);
  row(
    "`send` → ACK, two clients, p50",
    fmtMs(p50),
    `echo RTT p50 ${fmtMs(echoP50)}`,
    fmtRatio(p50 / echoP50),
    `≤ 3× echo: ${met(p50 <= 3 * echoP50)}`,
  );
  row(
    "`send` → ACK, p99",
    fmtMs(p99),
    `echo RTT p99 ${fmtMs(echoP99)}`,
    fmtRatio(p99 / echoP99),
  );
  const o50 = median(lat.offline), o99 = percentile(lat.offline, 99);
  row(
    "`send` to an Offline user → saved notice, p50 / p99",
    `${fmtMs(o50)} / ${fmtMs(o99)}`,
    `echo RTT p50 ${fmtMs(echoP50)}`,
    fmtRatio(o50 / echoP50),
  );
  results.latency = { p50, p99, offlineP50: o50, offlineP99: o99 };
}

if (runs("throughput")) {
  const { child, port } = await startServer();
  const traffic = newTraffic();
  const clients = await openClients(128, "tp", port, traffic, "ignore");
  await registerAll(clients, 30_000);
  await Promise.all(clients.map((c) => c.dereg()));
  await sleep(300);
  const chat: LoadSocket[] = clients.map((c) => {
    const s: LoadSocket = {
      send: () => c.sendBytes(deregBytes(c.name, c.tok, c.nextId())),
    };
    // '{"v":1,"t":"ack"': bytes 12 and 13 are "ac".
    c.raw = (b) => s.onAnswer?.(b[12] === 97 && b[13] === 99);
    return s;
  });
  const echoes = echoSockets(echo.port, 128);
  const echoRates: number[] = [], chatRates: number[] = [];
  let resent = 0;
  for (let r = 0; r < CFG.loadRuns; r++) {
    echoRates.push((await closedLoop(echoes, 64, CFG.loadSeconds)).rate);
    const x = await closedLoop(chat, 64, CFG.loadSeconds);
    chatRates.push(x.rate);
    resent += x.resent;
  }
  await Promise.all(echoes.map((s) => s.close()));
  await closeAll(clients);
  await child.stop();
  const e = median(echoRates), c = median(chatRates);
  row(
    "server: ACKed requests/s, 64 in flight over 128 sources",
    fmtInt(c),
    `echo ${fmtInt(e)}/s`,
    fmtRatio(c / e),
    `≥ 0.5× echo: ${met(c >= 0.5 * e)}`,
  );
  results.throughput = { server: c, echo: e, chatRates, echoRates, resent };
  echoRate = e;
}
await echo.child.stop();

// The least a storm can cost: every client must get every row once, in
// datagrams of at most 64 rows and ~1,050 bytes of rows, and this runtime
// sends at most `rawRate` of them a second from one socket.
function stormFloor(n: number): { datagrams: number; ms: number } {
  let chars = 0;
  for (let i = 0; i < n; i++) {
    chars += JSON.stringify([`s${i}`, "127.0.0.1", 40_000 + i % 20_000, 1])
      .length + 1;
  }
  const perDatagram = Math.min(64, Math.floor(1_050 / (chars / n)));
  const datagrams = Math.ceil(n / perDatagram) * n;
  return { datagrams, ms: (datagrams / rawRate) * 1000 };
}

const stormResults: Record<string, unknown>[] = [];
if (runs("storm")) {
  for (const { n, runs: count, capMs } of CFG.storms) {
    const all: StormRun[] = [];
    for (let r = 0; r < count; r++) all.push(await storm(n, capMs));
    const done = all.filter((x) => x.ms !== null).map((x) => x.ms!);
    const ms = done.length === all.length ? median(done) : null;
    const mid = all[all.length >> 1];
    const rowsTotal = n * n;
    const known = median(all.map((x) => x.rowsKnown));
    const floor = stormFloor(n);
    const traffic = `${fmtInt(median(all.map((x) => x.serverOut)))} + ${
      fmtInt(median(all.map((x) => x.serverIn)))
    } datagrams (${fmtBytes(median(all.map((x) => x.serverBytesOut)))} + ${
      fmtBytes(median(all.map((x) => x.serverBytesIn)))
    }, server + clients), largest ${
      fmtInt(Math.max(...all.map((x) => x.largest)))
    } B`;
    const target = n === 10_000
      ? `≤ 10 s: ${met(ms !== null && ms <= 10_000)}`
      : "";
    // Not complete in time: where the rate of rows it reached leads.
    const projected = known > 0 ? capMs * rowsTotal / known : Infinity;
    row(
      `registration storm, N = ${fmtInt(n)}: every table complete`,
      ms !== null
        ? `${fmtMs(ms)}${count > 1 ? ` (median of ${count})` : ""}; ${traffic}`
        : `not in ${capMs / 1000} s: ${
          (100 * known / rowsTotal).toFixed(0)
        }% of the ${fmtInt(rowsTotal)} rows delivered, ${
          fmtInt(mid.converged)
        } tables complete (at that rate: ${
          fmtMs(projected)
        }); all registered in ${fmtMs(mid.registeredMs)}; ${traffic}`,
      `floor: ${fmtInt(floor.datagrams)} datagrams at the raw send rate, ${
        fmtMs(floor.ms)
      }`,
      ms !== null
        ? fmtRatio(ms / floor.ms)
        : `> ${fmtRatio(capMs / floor.ms)} (${fmtRatio(projected / floor.ms)})`,
      target,
    );
    stormResults.push({
      n,
      stormMs: ms,
      runs: all,
      rowsTotal,
      rowsKnown: known,
      capMs,
      projectedMs: ms ?? projected,
      floor,
    });
  }
}
results.storms = stormResults;

const fanResults: Record<string, unknown>[] = [];
if (runs("fanout")) {
  for (const { n, runs: count } of CFG.fanouts) {
    const f = await fanOut(n, count);
    const ms = f.times.length > 0 ? median(f.times) : null;
    const target = n === 10_000
      ? `≤ 1 s: ${met(f.allAcked && ms !== null && ms <= 1_000)}`
      : "";
    // The same number of round trips at the echo server's rate.
    const floorMs = echoRate > 0 ? ((n - 1) / echoRate) * 1000 : NaN;
    row(
      `\`send_all\` fan-out, N = ${fmtInt(n)}: until all ACKed`,
      f.allAcked
        ? `${fmtMs(ms)} (median of ${f.times.length}; ${
          fmtMs(Math.min(...f.times))
        } to ${fmtMs(Math.max(...f.times))})`
        : `NOT all ACKed (${f.registered}/${n} registered, ${f.noack} noack)`,
      `${fmtInt(n - 1)} echo round trips at the echo rate: ${fmtMs(floorMs)}`,
      ms === null || !Number.isFinite(floorMs) ? "" : fmtRatio(ms / floorMs),
      target,
    );
    fanResults.push({ ...f, fanoutMs: ms, floorMs });
  }
}
results.fanouts = fanResults;

if (runs("blackbox")) {
  const box = await blackBox(CFG.boxSends);
  const p50 = median(box), p99 = percentile(box, 99);
  row(
    "typed `send` → `[Message received by X.]`, real processes, p50 / p99",
    `${fmtMs(p50)} / ${fmtMs(p99)}`,
    `echo RTT p50 ${fmtMs(echoP50)}`,
    fmtRatio(p50 / echoP50),
  );
  results.blackBox = { p50, p99 };
}

if (memBase !== undefined) {
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
      `${fmtInt(per)} B per ${m.messages > 0 ? "message" : "user"}`,
      m.messages > 0 || m.users < 100_000
        ? ""
        : `≤ 2 KB/user: ${met(per <= 2_000)}`,
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
  results.memory = { base: memBase, servers: mem };
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

console.log(
  "\n| measurement | result | baseline (same run) | ratio | target |\n| --- | --- | --- | --- | --- |",
);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
console.log(`\n${seconds.toFixed(0)} s in all`);
results.table = rows;
if (!quick && only === undefined) {
  Deno.writeTextFileSync(
    `${ROOT}docs/bench_results.json`,
    JSON.stringify(results, null, 2) + "\n",
  );
  console.log("wrote docs/bench_results.json");
}
await yieldNow();
