// deno-lint-ignore-file no-console
/**
 * Registered abusers for `tests/netns_abuse_test.ts`, run inside its network
 * namespace (`ip netns exec NS deno run --allow-net tests/_netns_abuser.ts
 * MODE ...`). Bounded in count and time; prints one JSON line of what it
 * did and what the server answered, then exits.
 *
 * - `parts PORT ABUSERS SECONDS RATE`: `ABUSERS` registered sessions each
 *   send `RATE` first parts per second of 64-part group messages that never
 *   complete (each within its own fair share), for `SECONDS`; the first one
 *   also sends a hand-built poison group message (64 parts, 57,600 bytes of
 *   text, past the 16 KiB limit).
 * - `names PORT HOST SOCKETS SAVES`: one host registers 16 names on each of
 *   `SOCKETS` sockets (the most per address:port; all but the last on each
 *   socket left Offline), then each socket's Online name saves up to
 *   `SAVES` messages of 900 characters for those Offline names.
 *
 * Every reliable datagram the server sends is ACKed, as a client does.
 *
 * @module
 */
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";

const [mode, portArg, ...rest] = Deno.args;
const server = {
  transport: "udp" as const,
  hostname: "127.0.0.1",
  port: Number(portArg),
};

interface Abuser {
  conn: Deno.DatagramConn;
  tok: string;
  waiting: Map<number, (m: Message) => void>;
  errors: Record<string, number>;
  acks: number;
}

let nextId = 1;
const sendTo = (a: Abuser, m: Message) =>
  a.conn.send(encodeMessage(m), server).catch(() => {});

function open(hostname: string): Abuser {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const a: Abuser = { conn, tok: "", waiting: new Map(), errors: {}, acks: 0 };
  (async () => {
    const buf = new Uint8Array(65_535);
    for (;;) {
      let data: Uint8Array;
      try {
        [data] = await conn.receive(buf);
      } catch {
        return;
      }
      const r = decodeMessage(data);
      if (!r.ok) continue;
      const m = r.message;
      if (
        m.t === "ack" || m.t === "err" || m.t === "retry" || m.t === "welcome"
      ) {
        if (m.t === "ack") a.acks++;
        if (m.t === "err") a.errors[m.code] = (a.errors[m.code] ?? 0) + 1;
        a.waiting.get(m.id)?.(m);
        a.waiting.delete(m.id);
      } else if ("id" in m) {
        sendTo(a, { t: "ack", id: m.id });
      }
    }
  })();
  return a;
}

// A request, sent again every 200 ms, until answered or 5 s have passed.
async function request(
  a: Abuser,
  m: Message & { id: number },
): Promise<Message | undefined> {
  const { promise, resolve } = Promise.withResolvers<Message | undefined>();
  a.waiting.set(m.id, resolve);
  for (let i = 0; i < 25 && a.waiting.has(m.id); i++) {
    await sendTo(a, m);
    await Promise.race([promise, new Promise((r) => setTimeout(r, 200))]);
  }
  a.waiting.delete(m.id);
  resolve(undefined);
  return promise;
}

async function register(a: Abuser, name: string): Promise<boolean> {
  let r = await request(a, { t: "reg", id: nextId++, name });
  if (r?.t !== "retry") return false;
  r = await request(a, { t: "reg", id: nextId++, name, ck: r.ck });
  if (r?.t !== "welcome") return false;
  a.tok = r.tok;
  return true;
}

const tick = () => new Promise((r) => setTimeout(r, 10));
const out: Record<string, unknown> = { mode };

if (mode === "parts") {
  const [n, seconds, rate] = rest.map(Number);
  const abusers = Array.from({ length: n }, () => open("127.0.0.1"));
  const ok = await Promise.all(
    abusers.map((a, i) => register(a, `abuser${i}`)),
  );
  out.registered = ok.filter(Boolean).length;
  // The poison: 64 parts of 900 bytes (the most a part carries), 57,600 in all.
  const poison = abusers[0];
  for (let pi = 0; pi < 64; pi++) {
    await sendTo(poison, {
      t: "all",
      id: nextId++,
      tok: poison.tok,
      k: "poison",
      pi,
      pn: 64,
      text: "p".repeat(900),
    });
  }
  let sent = 0;
  const end = Date.now() + seconds * 1_000;
  const text = "q".repeat(900);
  for (let t = Date.now(), done = 0; Date.now() < end; await tick()) {
    const due = Math.floor(((Date.now() - t) / 1_000) * rate) - done;
    for (let k = 0; k < due; k++) {
      for (const a of abusers) {
        sendTo(a, {
          t: "all",
          id: nextId++,
          tok: a.tok,
          k: `x${nextId}`,
          pi: 0,
          pn: 64,
          text,
        });
        sent++;
      }
    }
    done += Math.max(0, due);
  }
  out.sent = sent;
  out.poisonRefused = poison.errors.too_big ?? 0;
  out.answers = abusers.reduce((s, a) => s + a.acks, 0);
  out.errors = abusers.reduce((s: Record<string, number>, a) => {
    for (const [k, v] of Object.entries(a.errors)) s[k] = (s[k] ?? 0) + v;
    return s;
  }, {});
  for (const a of abusers) a.conn.close();
} else if (mode === "names") {
  const [host, socketsArg, savesArg] = rest;
  const sockets = Array.from({ length: Number(socketsArg) }, () => open(host));
  const names: string[][] = [];
  let registered = 0;
  await Promise.all(sockets.map(async (a, s) => {
    names[s] = [];
    for (let j = 0; j < 16; j++) {
      const name = `m${s}n${j}`;
      if (await register(a, name)) {
        registered++;
        names[s].push(name);
      }
    }
  }));
  out.registered = registered;
  // Each socket's last name is Online; the others are Offline.
  const offline = names.flatMap((l) => l.slice(0, -1));
  let sent = 0;
  const saves = Number(savesArg);
  const end = Date.now() + 8_000;
  const text = "m".repeat(900);
  await Promise.all(sockets.map(async (a, s) => {
    for (let i = 0; i < saves && Date.now() < end; i++) {
      await sendTo(a, {
        t: "save",
        id: nextId++,
        tok: a.tok,
        to: offline[(i * 7 + s) % offline.length],
        k: `m${s}:${i}`,
        pi: 0,
        pn: 1,
        text,
      });
      sent++;
      if (i % 4 === 3) await tick();
    }
  }));
  // The last answers.
  await new Promise((r) => setTimeout(r, 300));
  out.sent = sent;
  out.saved = sockets.reduce((s, a) => s + a.acks, 0);
  out.errors = sockets.reduce((s: Record<string, number>, a) => {
    for (const [k, v] of Object.entries(a.errors)) s[k] = (s[k] ?? 0) + v;
    return s;
  }, {});
  for (const a of sockets) a.conn.close();
}
console.log(JSON.stringify(out));
Deno.exit(0);
