// deno-lint-ignore-file no-console
// One process of the restart-convergence load (bench/_store.ts): `count`
// real clients (client/state.ts driven by runtime/udp_driver.ts, as
// `udpchat -c` runs them, with a short keepalive: `keepaliveMs`), each on its
// own UDP socket, named `${prefix}${start}` on. Commands one per line on
// stdin; every answer is one JSON line on stdout:
//
//   start   start the clients, at most `window` registrations under way at
//           once; {started, ms} once every one was welcomed
//   arm     from now on, wait for every client to be welcomed again (after a
//           server restart) and then hold a table of `total` users, all
//           Online; {complete, at} when all do (`at`: wall-clock ms,
//           performance.timeOrigin based, comparable across processes).
//           `start` arms too.
//   status  {complete, welcomed, exited}
//   close   close every socket, {closed}, exit
//
// Arguments: serverPort prefix start count total keepaliveMs window.
import { ClientState } from "../client/state.ts";
import type { ClientEvent } from "../client/mod.ts";
import { readLines } from "../runtime/stdin_lines.ts";
import { UdpDriver } from "../runtime/udp_driver.ts";

const [portArg, prefix, startArg, countArg, totalArg, kaArg, windowArg] =
  Deno.args;
const port = Number(portArg);
const first = Number(startArg);
const count = Number(countArg);
const total = Number(totalArg);
const keepaliveMs = Number(kaArg);
const window = Number(windowArg);
const wall = () => performance.timeOrigin + performance.now();
const say = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

interface Slot {
  state: ClientState;
  driver: UdpDriver<ClientEvent>;
  done: Promise<void>;
  welcomed: boolean;
  complete: boolean;
  exited: boolean;
  /** Resolves at this client's first welcome. */
  first: PromiseWithResolvers<void>;
}

const slots: Slot[] = [];
let complete = 0;
let reported = true;

function see(s: Slot, e: ClientEvent): void {
  if (e.type === "welcome" || e.type === "server_restarted") {
    s.welcomed = true;
    s.first.resolve();
    return;
  }
  if (!s.welcomed || s.complete) return;
  const full = e.type === "table_summary"
    ? e.users === total && e.online === total
    : e.type === "table"
    ? e.rows.length === total && e.rows.every((r) => r[3] === 1)
    : false;
  if (!full) return;
  s.complete = true;
  complete++;
  if (complete === count && !reported) {
    reported = true;
    say({ complete, at: wall() });
  }
}

function arm(): void {
  complete = 0;
  reported = false;
  for (const s of slots) {
    s.welcomed = false;
    s.complete = false;
  }
}

function open(i: number): Slot {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const state = new ClientState({
    name: `${prefix}${first + i}`,
    server: { hostname: "127.0.0.1", port },
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    keepaliveMs,
  });
  const slot = {
    state,
    welcomed: false,
    complete: false,
    exited: false,
    first: Promise.withResolvers<void>(),
  } as Slot;
  slot.driver = new UdpDriver(conn, state, {
    print: (e) => see(slot, e),
    afterStep: () => {
      if (state.exit === undefined) return;
      slot.exited = true;
      slot.first.resolve();
    },
  });
  slot.done = slot.driver.run();
  return slot;
}

async function start(): Promise<void> {
  arm();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: window }, async () => {
    while (next < count) {
      const s = open(next++);
      slots.push(s);
      s.state.start(Date.now());
      s.driver.step();
      await s.first.promise;
    }
  }));
  say({ started: slots.length, ms: performance.now() - t0 });
}

for await (const line of readLines(Deno.stdin.readable)) {
  const cmd = line.trim();
  if (cmd === "start") await start();
  else if (cmd === "arm") arm();
  else if (cmd === "status") {
    say({
      complete,
      welcomed: slots.filter((s) => s.welcomed).length,
      exited: slots.filter((s) => s.exited).length,
    });
  } else if (cmd === "close") {
    for (const s of slots) await s.driver.close();
    await Promise.all(slots.map((s) => s.done.catch(() => {})));
    say({ closed: true });
    break;
  }
}
Deno.exit(0);
