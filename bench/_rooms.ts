// Rooms of N users against a real server process: the load generator spreads
// N - 1 light clients over several worker processes (bench/_room_worker.ts,
// one socket per client, each process reporting what its clients saw); the
// bench process holds one more client, the sender of the `send_all`s.
//
// - registration storm: every client registers at once; the time until every
//   one knows the room (N users, all Online), then a sample of lookups (`who`)
//   from random clients for random names shows each can reach anyone;
// - `send_all` fan-out: until the server's `done` notice says every recipient
//   ACKed or had it saved; the workers count what their clients got.
import { LightClient, newTraffic, type Traffic } from "./_light_client.ts";
import {
  Child,
  memoryOf,
  serverStats,
  startServer,
  udpDrops,
} from "./_process.ts";
import { sleep, within } from "./_stats.ts";

/** What one room measured. */
export interface RoomRun {
  n: number;
  workers: number;
  /** Time until every client knew the room (ms); null if not within the cap. */
  stormMs: number | null;
  /** Time until every client was welcomed (ms). */
  registeredMs: number;
  registered: number;
  complete: number;
  /** Lookups of random names from random clients, and how many found the right row. */
  lookups: number;
  found: number;
  /** What the server sent and received during the storm (its `stats`). */
  serverOut: number;
  serverIn: number;
  serverBytesOut: number;
  serverBytesIn: number;
  retransmitted: number;
  /** Server RSS after the storm, bytes. */
  serverRss: number;
  /** The server's `stats` after the storm (its drop counters by reason among them). */
  serverStats: Record<string, number>;
  /** Datagrams the kernel dropped at the server's socket (buffer full), storm and fan-out. */
  serverDrops: number;
  fanoutDrops: number;
  /** `send_all` times (ms), each until `note done`. */
  fanout: number[];
  /** Whether every fan-out reached every recipient with no `noack`. */
  fanoutAll: boolean;
  noack: number;
  fanoutRetransmitted: number;
  largest: number;
}

interface Line {
  complete?: number;
  at?: number;
  registered?: number;
  ms?: number;
  found?: number;
  wrong?: number;
  groupSeen?: number;
  traffic?: Traffic;
  ready?: boolean;
}

const parse = (l: string) => JSON.parse(l) as Line;
const isJson = (l: string) => l.startsWith("{");
const wallNow = () => performance.timeOrigin + performance.now();

/**
 * Runs one room: storm, lookups, then `fanouts` `send_all`s.
 *
 * @param n Users in the room (the sender included).
 * @param options Worker processes, cap on the storm, fan-out runs.
 */
export async function room(
  n: number,
  options: {
    workers: number;
    capMs: number;
    fanouts: number;
    /** Registrations under way at once, over all workers. */
    window: number;
  },
): Promise<RoomRun> {
  const { child: server, port } = await startServer();
  const prefix = "r";
  const traffic = newTraffic();
  const sender = new LightClient(`${prefix}0`, port, traffic, "track");
  const per = Math.ceil((n - 1) / options.workers);
  const workers: Child[] = [];
  for (let w = 0, start = 1; start < n; w++, start += per) {
    const count = Math.min(per, n - start);
    workers.push(
      new Child([
        "run",
        "--allow-net",
        "--allow-read",
        "bench/_room_worker.ts",
        String(port),
        prefix,
        String(start),
        String(count),
        String(n),
        String(Math.ceil(options.window / options.workers)),
      ], `worker${w}`),
    );
  }
  const run: RoomRun = {
    n,
    workers: workers.length,
    stormMs: null,
    registeredMs: NaN,
    registered: 0,
    complete: 0,
    lookups: 0,
    found: 0,
    serverOut: 0,
    serverIn: 0,
    serverBytesOut: 0,
    serverBytesIn: 0,
    retransmitted: 0,
    serverRss: 0,
    serverStats: {},
    serverDrops: 0,
    fanoutDrops: 0,
    fanout: [],
    fanoutAll: false,
    noack: 0,
    fanoutRetransmitted: 0,
    largest: 0,
  };
  try {
    await Promise.all(workers.map((w) => w.next(isJson, 120_000)));
    // The storm: everyone at once.
    const completes = workers.map((w) =>
      w.next((l) => isJson(l) && parse(l).complete !== undefined, options.capMs)
        .then(parse)
    );
    const registrations = workers.map((w) =>
      w.next((l) => isJson(l) && parse(l).registered !== undefined, 120_000)
        .then(parse)
    );
    const senderKnows = new Promise<number>((resolve) => {
      sender.onTable = (c) => {
        if (c.users === n && c.usersOnline === n) resolve(wallNow());
      };
    });
    const t0 = wallNow();
    for (const w of workers) await w.type("register");
    const senderOk = sender.register(sender.name, 60_000);
    const ended = await Promise.allSettled(completes);
    const senderAt = await within(senderKnows, 1) ? await senderKnows : NaN;
    const ats = ended.map((e) => e.status === "fulfilled" ? e.value.at! : NaN);
    if (ats.every(Number.isFinite) && Number.isFinite(senderAt)) {
      run.stormMs = Math.max(senderAt, ...ats) - t0;
    }
    const regs = await Promise.all(registrations);
    run.registered = regs.reduce((a, r) => a + r.registered!, 0) +
      (await senderOk ? 1 : 0);
    run.registeredMs = Math.max(...regs.map((r) => r.ms!));
    const stats = await serverStats(server);
    run.serverOut = stats.out;
    run.serverIn = stats.in;
    run.serverBytesOut = stats.bytes_out;
    run.serverBytesIn = stats.bytes_in;
    run.retransmitted = stats.retransmitted;
    run.serverStats = stats;
    run.serverRss = memoryOf(server.pid).rss;
    run.serverDrops = udpDrops(port);
    // Each can reach anyone: lookups of random names from random clients.
    const perWorker = Math.max(1, Math.ceil(200 / workers.length));
    for (const w of workers) {
      const answer = w.next((l) => isJson(l) && parse(l).found !== undefined);
      await w.type(`lookup ${perWorker}`);
      const a = parse(await answer);
      run.lookups += perWorker;
      run.found += a.found!;
    }
    // Fan-out, once the storm's traffic has settled.
    await sleep(1_000);
    const status = async () => {
      const all: Line[] = [];
      for (const w of workers) {
        const answer = w.next((l) =>
          isJson(l) && parse(l).traffic !== undefined
        );
        await w.type("status");
        all.push(parse(await answer));
      }
      return all;
    };
    let all = run.registered === n;
    run.complete = (await status()).reduce((a, s) => a + s.complete!, 0) +
      (Number.isFinite(senderAt) ? 1 : 0);
    const before = await serverStats(server);
    for (let r = 0; r < options.fanouts && all; r++) {
      const k = `${sender.name}:bench:${r}`;
      const seen0 = (await status()).reduce((a, s) => a + s.groupSeen!, 0);
      const { promise: done, resolve } = Promise.withResolvers<void>();
      sender.onNote = (m) => {
        if (m.ref !== k) return;
        if (m.k === "noack") run.noack++;
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
      run.fanout.push(performance.now() - t);
      await sleep(300);
      const seen = (await status()).reduce((a, s) => a + s.groupSeen!, 0) -
        seen0;
      if (!finished || seen < n - 1 || run.noack > 0) all = false;
    }
    run.fanoutAll = all && run.fanout.length === options.fanouts;
    const after = await serverStats(server);
    run.fanoutDrops = udpDrops(port) - run.serverDrops;
    run.fanoutRetransmitted = after.retransmitted - before.retransmitted;
    for (const s of await status()) {
      run.largest = Math.max(
        run.largest,
        s.traffic!.largestIn,
        s.traffic!.largestOut,
      );
    }
    run.largest = Math.max(run.largest, traffic.largestIn, traffic.largestOut);
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
    await sender.close();
    await server.stop();
  }
  return run;
}
