// The store section (issue 10, "Nothing lost when a server dies"): the same
// measurements against a server with `--store memory` and with `--store
// nats://...` (a real `nats-server -js`, bench/_nats.ts), so their ratio
// shows what durability costs, and the time a restarted server takes to have
// every idle client back.
//
// - saved notice: real client A `send`s to Offline user B, one at a time,
//   until `[Offline Message sent at ... saved.]` (the server answers only
//   once its store has the message: with NATS, once JetStream acknowledged);
// - `send_all` fan-out: N Online light clients plus N/10 Offline users, until
//   the server's `done` notice: every Online recipient ACKed, every Offline
//   one's copy saved;
// - convergence after a restart: `clients` real clients with a short
//   keepalive (`keepaliveMs`), idle, spread over worker processes
//   (bench/_recovery_worker.ts); the server is stopped (SIGINT, as Ctrl+C)
//   and started again on its port; the time from the new server's start
//   (process spawned) until every client is registered again and holds the
//   full table (its summary: all users, all Online).
import {
  closeAll,
  type LightClient,
  newTraffic,
  openClients,
  registerAll,
} from "./_light_client.ts";
import { Child, startServer } from "./_process.ts";
import { realClient, until } from "./_real_client.ts";
import { sleep, within } from "./_stats.ts";

/** Wall-clock ms (performance.timeOrigin based), comparable across processes. */
const wall = () => performance.timeOrigin + performance.now();

/**
 * `count` sends to an Offline user, each timed until its saved notice (ms),
 * paced 1 ms apart.
 */
export async function savedLatency(
  serverArgs: readonly string[],
  count: number,
): Promise<number[]> {
  const { child, port } = await startServer({ args: serverArgs });
  const a = await realClient("storeA", port);
  const b = await realClient("storeB", port);
  const out: number[] = [];
  try {
    await until(a, () => a.state.table.some((r) => r[0] === "storeB"));
    const off = b.next((e) => e.event === "offline");
    b.state.command("dereg storeB", Date.now());
    b.driver.step();
    await off;
    await until(
      a,
      () => a.state.table.find((r) => r[0] === "storeB")?.[3] === 0,
    );
    for (let i = 0; i < count; i++) {
      const got = a.next((e) => e.event === "saved");
      const t = performance.now();
      a.state.command(`send storeB stored ${i}`, Date.now());
      a.driver.step();
      if (!await within(got, 30_000)) break;
      out.push(performance.now() - t);
      await sleep(1);
    }
  } finally {
    for (const c of [a, b]) {
      await c.driver.close();
      await c.done;
    }
    await child.stop();
  }
  return out;
}

/** What a fan-out run measured. */
export interface FanoutRun {
  /** Online users (the sender included). */
  online: number;
  /** Offline users (registered, then `dereg`): their copies are saved. */
  offline: number;
  /** Each `send_all` until the server's `done` notice (ms). */
  times: number[];
  /**
   * Each `send_all` until the server's ACK to the sender (ms), amid the
   * fan-out's traffic to the recipients in this process (see
   * {@linkcode groupAcks} for the ACK alone).
   */
  acks: number[];
  /** Whether every run ended with `done` and nothing `refused`. */
  all: boolean;
  /** Largest datagram seen either way, bytes. */
  largest: number;
  /** Per run: the `noack` and `refused` notices the sender got. */
  notices: { noack: number; refused: number }[];
}

/**
 * `runs` `send_all`s from one light client to `n - 1` Online light clients
 * and `offline` Offline users, in this process, each until `done`.
 */
export async function fanout(
  serverArgs: readonly string[],
  n: number,
  offline: number,
  runs: number,
): Promise<FanoutRun> {
  const { child, port } = await startServer({ args: serverArgs });
  const traffic = newTraffic();
  const run: FanoutRun = {
    online: n,
    offline,
    times: [],
    acks: [],
    all: false,
    largest: 0,
    notices: [],
  };
  let clients: LightClient[] = [];
  let gone: LightClient[] = [];
  try {
    gone = await openClients(offline, "gone", port, traffic, "ignore");
    await registerAll(gone, 30_000, 64);
    await Promise.all(gone.map((c) => c.dereg()));
    await closeAll(gone);
    clients = await openClients(n, "fan", port, traffic, "track");
    const [sender] = clients;
    const total = n + offline;
    const knows = new Promise<void>((resolve) => {
      sender.onTable = (c) => {
        const full = c.users > 0
          ? c.users === total && c.usersOnline === n
          : c.online.size === n;
        if (full) resolve();
      };
    });
    const ok = await registerAll(clients, 30_000, 128);
    let all = ok === n && await within(knows, 30_000);
    // Let the registrations' table traffic settle.
    await sleep(500);
    for (let r = 0; r < runs && all; r++) {
      const k = `${sender.name}:store:${r}`;
      const { promise: done, resolve } = Promise.withResolvers<void>();
      // An Offline recipient's copy is saved and noticed as `noack`; so is
      // an Online recipient's that was not ACKed in time (counted, shown);
      // `refused` (not saved) is a failure.
      let noack = 0, refused = 0;
      sender.onNote = (m) => {
        if (m.ref !== k) return;
        if (m.k === "noack") noack++;
        if (m.k === "refused") refused++;
        if (m.k === "done") resolve();
      };
      const t = performance.now();
      const acked = sender.request({
        t: "all",
        id: sender.nextId(),
        tok: sender.tok,
        k,
        pi: 0,
        pn: 1,
        text: `fan-out ${r}`,
      }).then((m) => {
        if (m?.t === "ack") run.acks.push(performance.now() - t);
      });
      if (!await within(done, 30_000)) all = false;
      else run.times.push(performance.now() - t);
      await acked;
      run.notices.push({ noack, refused });
      if (refused > 0) all = false;
      await sleep(200);
    }
    run.all = all && run.times.length === runs && run.acks.length === runs;
    run.largest = Math.max(traffic.largestIn, traffic.largestOut);
  } finally {
    await closeAll(clients);
    await child.stop();
  }
  return run;
}

/**
 * `count` `send_all`s (`all`) from one light client in a room of one Online
 * recipient (which ACKs its copy) and one Offline user (whose copy is
 * saved), each timed until the server's ACK to the sender (ms), 3 ms apart.
 * With a durable store the server writes the group message's journal entry
 * (server/journal.ts) before it ACKs; with `--store memory` it ACKs at once.
 */
export async function groupAcks(
  serverArgs: readonly string[],
  count: number,
): Promise<number[]> {
  const { child, port } = await startServer({ args: serverArgs });
  const traffic = newTraffic();
  const out: number[] = [];
  let clients: LightClient[] = [];
  try {
    const [gone] = await openClients(1, "ackgone", port, traffic, "ignore");
    if (!await gone.register() || !await gone.dereg()) {
      throw new Error("group ACKs: the Offline user did not register");
    }
    await gone.close();
    clients = await openClients(2, "ack", port, traffic, "track");
    if (await registerAll(clients, 30_000) !== 2) {
      throw new Error("group ACKs: the clients did not register");
    }
    await sleep(300);
    const [sender] = clients;
    // 10 of warm-up, not kept.
    for (let i = -10; i < count; i++) {
      const t = performance.now();
      const r = await sender.request({
        t: "all",
        id: sender.nextId(),
        tok: sender.tok,
        k: `${sender.name}:ack:${i}`,
        pi: 0,
        pn: 1,
        text: `a group message of about forty bytes ${i}`,
      }, 10_000);
      if (r?.t === "ack" && i >= 0) out.push(performance.now() - t);
      // The copy, its ACK and the `done` notice.
      await sleep(3);
    }
  } finally {
    await closeAll(clients);
    await child.stop();
  }
  return out;
}

/** What the restart runs measured. */
export interface ConvergenceRun {
  clients: number;
  keepaliveMs: number;
  /** Time to start the clients and have them all welcomed the first time (ms). */
  startMs: number;
  /** Per restart: from the new server's spawn until every client holds the full table (ms); null if not within the cap. */
  fromStart: (number | null)[];
  /** Per restart: from the new server's spawn until it printed `[Server is online...]` (ms). */
  toOnline: number[];
  /** Clients that exited (gave up on the server) by the end. */
  exited: number;
}

const isJson = (l: string) => l.startsWith("{");
const parse = (l: string) => JSON.parse(l) as Record<string, number>;

/**
 * `restarts` restarts of a server with `clients` idle real clients.
 *
 * @param serverArgs Flags after `-s PORT` (the store).
 * @param options Clients, worker processes, keepalive, restarts, cap per restart.
 */
export async function convergence(
  serverArgs: readonly string[],
  options: {
    clients: number;
    workers: number;
    keepaliveMs: number;
    restarts: number;
    capMs: number;
  },
): Promise<ConvergenceRun> {
  const { clients, keepaliveMs } = options;
  let { child: server, port } = await startServer({ args: serverArgs });
  const per = Math.ceil(clients / options.workers);
  const workers: Child[] = [];
  const run: ConvergenceRun = {
    clients,
    keepaliveMs,
    startMs: NaN,
    fromStart: [],
    toOnline: [],
    exited: 0,
  };
  const window = Math.max(8, Math.floor(64 / options.workers));
  for (let w = 0, start = 0; start < clients; w++, start += per) {
    workers.push(
      new Child([
        "run",
        "--allow-net",
        "--allow-read",
        "bench/_recovery_worker.ts",
        String(port),
        "idle",
        String(start),
        String(Math.min(per, clients - start)),
        String(clients),
        String(keepaliveMs),
        String(window),
      ], `recovery${w}`),
    );
  }
  const completes = () =>
    workers.map((w) =>
      w.next((l) => isJson(l) && parse(l).complete !== undefined, options.capMs)
        .then((l) => parse(l).at)
    );
  try {
    const t0 = performance.now();
    let ready = completes();
    const started = workers.map((w) =>
      w.next((l) => isJson(l) && parse(l).started !== undefined, 120_000)
    );
    for (const w of workers) await w.type("start");
    await Promise.all(started);
    run.startMs = performance.now() - t0;
    await Promise.all(ready);
    for (let r = 0; r < options.restarts; r++) {
      // Quiet first: the last summaries ACKed.
      await sleep(500);
      for (const w of workers) {
        const armed = w.next((l) => isJson(l) && parse(l).exited !== undefined);
        await w.type("arm");
        await w.type("status");
        await armed;
      }
      ready = completes();
      await server.stop();
      const spawned = wall();
      server = (await startServer({ port, args: serverArgs })).child;
      run.toOnline.push(wall() - spawned);
      const ats = await Promise.allSettled(ready);
      run.fromStart.push(
        ats.every((a) => a.status === "fulfilled")
          ? Math.max(...ats.map((a) =>
            (a as PromiseFulfilledResult<number>)
              .value
          )) - spawned
          : null,
      );
    }
    for (const w of workers) {
      const s = w.next((l) => isJson(l) && parse(l).exited !== undefined);
      await w.type("status");
      run.exited += parse(await s).exited;
    }
  } finally {
    for (const w of workers) {
      try {
        const closed = w.next((l) => l.includes("closed"), 30_000);
        await w.type("close");
        await closed;
      } catch {
        // Gone already.
      }
      await w.stop();
    }
    await server.stop();
  }
  return run;
}
