// deno-lint-ignore-file no-console
// Memory of the server's state machine with N registered users and M stored
// messages, in a process of its own: users register through the real
// protocol (reg, cookie, reg, welcome, table ACK, dereg) but straight into
// ServerState, without sockets, so the figure is the server's own cost.
// Prints one JSON line: RSS and heap after a full GC at each step.
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { ServerState } from "../server/state.ts";

const steps = Deno.args[0].split(",").map(Number);
const messages = Number(Deno.args[1]);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
// (No rate limit here: one sender stores 100,000 messages as fast as it can.)
const server = new ServerState({
  random: (n) => crypto.getRandomValues(new Uint8Array(n)),
  limits: { rateBurst: 1e9, rateLimit: 1e9 },
});
let now = Date.now();
let id = 1;

function measure(): { rss: number; heap: number } {
  for (let i = 0; i < 3; i++) gc();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

// Feeds a message and returns what the server answered to that address.
function ask(m: Message, port: number, host: string): Message[] {
  server.receiveDatagram(encodeMessage(m), { hostname: host, port }, now);
  const out: Message[] = [];
  for (const d of server.datagramsToSend()) {
    if (d.to.port !== port || d.to.hostname !== host) continue;
    const r = decodeMessage(d.bytes);
    if (r.ok) out.push(r.message);
  }
  server.events();
  return out;
}

function register(name: string, i: number): string {
  // Spread users over addresses, as real clients are.
  const host = `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const port = 10_000 + (i % 50_000);
  const ck = ask({ t: "reg", id: id++, name }, port, host).find((m) =>
    m.t === "retry"
  );
  const replies = ask(
    { t: "reg", id: id++, name, ck: ck?.t === "retry" ? ck.ck : "" },
    port,
    host,
  );
  const welcome = replies.find((m) => m.t === "welcome");
  for (const m of replies) {
    if (m.t === "tbl") ask({ t: "ack", id: m.id }, port, host);
  }
  const tok = welcome?.t === "welcome" ? welcome.tok : "";
  ask({ t: "dereg", id: id++, name, tok }, port, host);
  return tok;
}

const base = measure();
const out: Record<string, unknown> = { base };
let made = 0;
const points: { users: number; rss: number; heap: number }[] = [];
for (const target of steps) {
  for (; made < target; made++) {
    register(`m${made}`, made + 1);
    if (made % 1000 === 0) now += 1; // time moves on
  }
  // Let the 30 s duplicate caches expire, as they would on a running server.
  now += 60_000;
  server.handleTimer(now);
  register(`tick${target}`, 16_000_000 + target);
  points.push({ users: target, ...measure() });
}
out.users = points;
// Stored messages, from one Online sender to Offline users m0..m99.
const host = "127.255.0.1", port = 9999;
const ck = ask({ t: "reg", id: id++, name: "sender" }, port, host).find((m) =>
  m.t === "retry"
);
const w = ask(
  { t: "reg", id: id++, name: "sender", ck: ck?.t === "retry" ? ck.ck : "" },
  port,
  host,
).find((m) => m.t === "welcome");
const tok = w?.t === "welcome" ? w.tok : "";
const before = measure();
for (let i = 0; i < messages; i++) {
  now += 0.01;
  ask(
    {
      t: "save",
      id: id++,
      tok,
      to: `m${i % Math.min(100, made)}`,
      k: `s:${i}`,
      pi: 0,
      pn: 1,
      text: "an offline message of about forty bytes.",
    },
    port,
    host,
  );
}
now += 60_000;
server.handleTimer(now);
const after = measure();
out.offline = {
  messages,
  stored: server.stats().offlineMessages,
  rssDelta: after.rss - before.rss,
  heapDelta: after.heap - before.heap,
};
console.log(JSON.stringify(out));
