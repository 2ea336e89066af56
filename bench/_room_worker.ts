// deno-lint-ignore-file no-console
// One process of the room load generator (bench/_rooms.ts): `count` light
// clients (bench/_light_client.ts), each on its own UDP socket, named
// `${prefix}${start}` on. Commands come one per line on stdin; every answer
// is one JSON line on stdout, so the parent can spread 10,000 clients over
// several processes (the server knows users by address: one socket each).
//
//   register        register all at once; report {registered, ms} and, as soon
//                   as every client knows a room of `total` users all Online,
//                   {complete, at} (`at`: wall-clock ms, performance.timeOrigin
//                   based, comparable across processes)
//   lookup K        K `who` lookups of random names of the room, from random
//                   clients: {lookups, found, wrong}
//   status          {complete, registered, groupSeen, traffic}
//   close           close every socket, {closed}, exit
//
// Arguments: serverPort prefix start count total [window]: at most `window`
// registrations under way at once in this process.
import { readLines } from "../runtime/stdin_lines.ts";
import {
  closeAll,
  type LightClient,
  newTraffic,
  openClients,
  registerAll,
} from "./_light_client.ts";

const [portArg, prefix, startArg, countArg, totalArg, windowArg] = Deno.args;
const port = Number(portArg);
const start = Number(startArg);
const count = Number(countArg);
const total = Number(totalArg);
const window = windowArg === undefined ? undefined : Number(windowArg);
const traffic = newTraffic();
const now = () => performance.timeOrigin + performance.now();
const say = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

const clients: LightClient[] = await openClients(
  count,
  prefix,
  port,
  traffic,
  "track",
);
clients.forEach((c, i) => (c.name = `${prefix}${start + i}`));
let complete = 0;
let registered = 0;
const done = new Set<LightClient>();
let reported = false;
for (const c of clients) {
  c.onTable = (c) => {
    if (done.has(c)) return;
    const knows = c.users > 0
      ? c.users === total && c.usersOnline === total
      : c.online.size === total;
    if (!knows) return;
    done.add(c);
    complete++;
    if (complete === count && !reported) {
      reported = true;
      say({ complete, at: now() });
    }
  };
}
say({ ready: true, count });

for await (const line of readLines(Deno.stdin.readable)) {
  const [cmd, arg] = line.trim().split(" ");
  if (cmd === "register") {
    const t0 = now();
    registerAll(clients, 60_000, window).then((n) => {
      registered = n;
      say({ registered: n, ms: now() - t0 });
    });
  } else if (cmd === "lookup") {
    const k = Number(arg);
    let found = 0, wrong = 0;
    await Promise.all(Array.from({ length: k }, async () => {
      const c = clients[Math.floor(Math.random() * clients.length)];
      const name = `${prefix}${Math.floor(Math.random() * total)}`;
      const row = await c.who(name);
      if (row === undefined) return;
      if (row[0] === name && row[3] === 1) found++;
      else wrong++;
    }));
    say({ lookups: k, found, wrong });
  } else if (cmd === "status") {
    say({
      complete,
      registered,
      groupSeen: clients.reduce((n, c) => n + c.groupSeen, 0),
      traffic,
    });
  } else if (cmd === "close") {
    await closeAll(clients);
    say({ closed: true });
    break;
  }
}
Deno.exit(0);
