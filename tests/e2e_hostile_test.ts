/**
 * A hostile network, for real: malformed floods, a flooding address, forged
 * requests and spoofed registrations against running processes (started with
 * `--allow-net` only, on 127.0.0.1).
 */
import { encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import {
  freePort,
  type Proc,
  serverStats,
  startClient,
  startServer,
} from "./_proc.ts";

const encoder = new TextEncoder();

/** A raw UDP socket for the attacker. */
function attacker(): Deno.DatagramConn {
  return Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
}

// Sends `count` datagrams made by `make`, yielding to the event loop every 32.
async function fire(
  conn: Deno.DatagramConn,
  port: number,
  count: number,
  make: (i: number) => Uint8Array,
): Promise<void> {
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  for (let i = 0; i < count; i++) {
    await conn.send(make(i), to);
    if (i % 32 === 31) await new Promise((r) => setTimeout(r, 0));
  }
}

function malformed(i: number): Uint8Array {
  switch (i % 8) {
    case 0:
      return crypto.getRandomValues(new Uint8Array(1 + (i % 1300)));
    case 1:
      return new Uint8Array([0xc3, 0x28, 0xa0, 0xa1]); // invalid UTF-8
    case 2:
      return encoder.encode(
        `{"v":1,"t":"msg","id":${i},"from":"userA","text":${"[".repeat(500)}${
          "]".repeat(500)
        }}`,
      );
    case 3:
      return encoder.encode(`{"v":99,"t":"reg","id":${i},"name":"x"}`);
    case 4:
      return encoder.encode(
        `{"v":1,"t":"tbl","id":1e400,"ver":-1,"rows":[[1,2,3,4]]}`,
      );
    case 5:
      return new Uint8Array(i % 3 === 0 ? 65_000 : 1_500).fill(0x20);
    case 6:
      return encoder.encode(`{"v":1,"t":"ack","id":${i}}`);
    default:
      return encoder.encode(
        `{"v":1,"t":"__proto__","id":${i},"constructor":{"prototype":{"x":1}}}`,
      );
  }
}

async function normalRound(A: Proc, B: Proc, tag: string): Promise<void> {
  const a0 = A.lines.length, b0 = B.lines.length;
  await A.type(`send userB p2p ${tag}`);
  await B.waitFor(`userA: p2p ${tag}`, { from: b0 });
  await A.waitFor("[Message received by userB.]", { from: a0 });
  await A.type(`send_all group ${tag}`);
  await B.waitFor(`Group Chat userA: group ${tag}`, { from: b0 });
  await B.type("dereg userB");
  await B.waitFor("[You are Offline. Bye.]", { from: b0 });
  await A.type(`send userB saved ${tag}`);
  await A.waitFor(/received by the server and saved\.\]$/, { from: a0 });
  const b1 = B.lines.length;
  await B.type("reg userB");
  await B.waitFor(new RegExp(`^userA: \\d\\d:\\d\\d:\\d\\d saved ${tag}$`), {
    from: b1,
  });
}

Deno.test("100,000 malformed datagrams at a server and a client, then everything still works", async () => {
  const sp = freePort(), ap = freePort(), bp = freePort();
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, ap);
  await using B = await startClient("userB", sp, bp);
  await A.waitFor(/'userB'/);
  const conn = attacker();
  try {
    await fire(conn, sp, 50_000, malformed);
    await fire(conn, ap, 50_000, malformed);
  } finally {
    conn.close();
  }
  await normalRound(A, B, "after-100k");
  const s = await serverStats(server);
  assert(
    (s.oversize ?? 0) + (s.utf8 ?? 0) + (s.json ?? 0) + (s.version ?? 0) +
        (s.type ?? 0) + (s.field ?? 0) + (s.rate ?? 0) > 1000,
    JSON.stringify(s),
  );
  // Both still up and answering.
  await A.type("exit");
  assertEquals(await A.status, 0);
  assertEquals(server.lines.filter((l) => l.startsWith("[Server error")), []);
});

Deno.test("one address flooding the server is shed while two clients chat", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, freePort());
  await using B = await startClient("userB", sp, freePort());
  await A.waitFor(/'userB'/);
  const conn = attacker();
  let flooding = true;
  const flood = (async () => {
    // Bounded: at most 60,000 datagrams, and it stops when the chat is done.
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: sp };
    for (let i = 0; i < 60_000 && flooding; i++) {
      await conn.send(
        encodeMessage({ t: "sync", id: i, tok: "f".repeat(32) }),
        to,
      );
      if (i % 32 === 31) await new Promise((r) => setTimeout(r, 0));
    }
  })();
  try {
    const b0 = B.lines.length;
    for (let i = 0; i < 10; i++) await A.type(`send_all flood-time ${i}`);
    for (let i = 0; i < 10; i++) {
      await B.waitFor(`Group Chat userA: flood-time ${i}`, {
        from: b0,
        timeoutMs: 30_000,
      });
    }
    await A.waitForCount("[Group Message received by Server.]", 10);
  } finally {
    flooding = false;
    await flood;
    conn.close();
  }
  const s = await serverStats(server);
  assert((s.rate ?? 0) > 0, `no datagram was shed: ${JSON.stringify(s)}`);
});

Deno.test("forged requests from another address are refused", async () => {
  const sp = freePort(), ap = freePort(), bp = freePort();
  await using server = await startServer(sp);
  await using A = await startClient("userA", sp, ap);
  await using B = await startClient("userB", sp, bp);
  await A.waitFor(/'userB'/);
  const conn = attacker();
  const forged: Message[] = [
    { t: "dereg", id: 1, name: "userA", tok: "0".repeat(32) },
    {
      t: "all",
      id: 2,
      tok: "0".repeat(32),
      k: "userA:x:1",
      pi: 0,
      pn: 1,
      text: "forged group",
    },
    {
      t: "save",
      id: 3,
      tok: "0".repeat(32),
      to: "userB",
      k: "userA:x:2",
      pi: 0,
      pn: 1,
      text: "forged saved",
    },
  ];
  const replies: Message[] = [];
  try {
    for (const m of forged) {
      await conn.send(encodeMessage(m), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: sp,
      });
    }
    // A message claiming to be from userA, sent to userB from the wrong address.
    await conn.send(
      encodeMessage({
        t: "msg",
        id: 9,
        from: "userA",
        g: 0,
        k: "userA:x:3",
        pi: 0,
        pn: 1,
        text: "forged private",
      }),
      { transport: "udp", hostname: "127.0.0.1", port: bp },
    );
    const buf = new Uint8Array(2048);
    for (let i = 0; i < 3; i++) {
      const [data] = await conn.receive(buf);
      replies.push(JSON.parse(new TextDecoder().decode(data)));
    }
  } finally {
    conn.close();
  }
  assertEquals(replies.map((r) => r.t === "err" && r.code), [
    "not_registered",
    "not_registered",
    "not_registered",
  ]);
  // userA is still Online everywhere; nothing forged was shown.
  const b0 = B.lines.length;
  await A.type("send userB real");
  await B.waitFor("userA: real", { from: b0 });
  const s = await serverStats(server);
  assertEquals(s.unauthenticated, 3);
  assert(!B.lines.some((l) => l.includes("forged")), B.lines.join("\n"));
  assert(!server.lines.some((l) => l.includes("forged")));
  assertMatch(
    B.lines.filter((l) => l.startsWith("{")).at(-1)!,
    /'userA': \['127\.0\.0\.1', \d+, 'Online'\]/,
  );
});

Deno.test("a spoofed registration gets at most 3x the bytes it sent, never a table", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  const clients: Proc[] = [];
  for (let i = 0; i < 30; i++) {
    clients.push(await startClient(`user${i}`, sp, freePort()));
  }
  const conn = attacker();
  let sent = 0, received = 0, largest = 0;
  try {
    const buf = new Uint8Array(65_507);
    for (const name of ["user0", "victim", "user29"]) {
      const req = encodeMessage({ t: "reg", id: sent + 1, name });
      sent += req.length;
      await conn.send(req, {
        transport: "udp",
        hostname: "127.0.0.1",
        port: sp,
      });
      const [data] = await conn.receive(buf);
      received += data.length;
      largest = Math.max(largest, data.length);
      const reply = JSON.parse(new TextDecoder().decode(data));
      assertEquals(reply.t, "retry");
      assert(
        data.length <= 3 * req.length,
        `${data.length} bytes for ${req.length}`,
      );
    }
  } finally {
    conn.close();
  }
  assert(received <= 3 * sent);
  const s = await serverStats(server);
  assertEquals(s.users, 30, "the spoofed registration registered nobody");
  for (const c of clients) await c[Symbol.asyncDispose]();
});
