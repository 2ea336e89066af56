/**
 * Nothing lost when a server dies: a udpchat server with its offline store
 * on NATS JetStream (a real `nats-server -js` this test starts on a free
 * port with a temp dir), 100 messages saved for an Offline user, the server
 * killed with SIGKILL and started again: on `reg` all 100 arrive exactly
 * once, in order, and their sender gets the delivery notices. Then NATS
 * itself goes away: a save is refused with a clear line, never a false
 * "saved", peer-to-peer chat goes on, and saving works again by itself when
 * NATS is back. Real processes on 127.0.0.1.
 */
import { assert, assertEquals } from "./_assert.ts";
import { NATS_SKIP_REASON, NatsServer } from "./_nats_server.ts";
import { freePort, Proc, startClient } from "./_proc.ts";
import { LEASE_MS } from "../runtime/cluster_link.ts";
import { RECOVERY } from "./_cluster.ts";

if (NATS_SKIP_REASON !== undefined) {
  // deno-lint-ignore no-console
  console.warn(`e2e_nats_test skipped: ${NATS_SKIP_REASON}`);
}

const COUNT = 100;
const SAVED =
  /^\[Offline Message sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d received by the server and saved\.\]$/;
const KEEPALIVE = ["--keepalive", "1"];

async function startDurableServer(
  port: number,
  nats: NatsServer,
): Promise<Proc> {
  const p = new Proc(["-s", String(port), "--store", nats.url], {
    label: "server",
  });
  await p.waitFor("[Server is online...]");
  return p;
}

Deno.test({
  name:
    "--store nats://: 100 saved messages survive kill -9 and arrive once, in order",
  ignore: NATS_SKIP_REASON !== undefined,
  fn: async () => {
    await using nats = await NatsServer.start();
    const sp = freePort();
    const first = await startDurableServer(sp, nats);
    await using A = await startClient("userA", sp, freePort(), {
      args: KEEPALIVE,
    });
    const bPort = freePort();
    const B1 = await startClient("userB", sp, bPort);
    await A.waitFor((l) => l.includes("'userB'"));
    await B1.type("dereg userB");
    await B1.waitFor("[You are Offline. Bye.]");
    await B1.type("exit");
    assertEquals(await B1.status, 0);
    await B1[Symbol.asyncDispose]();
    await A.waitFor((l) =>
      l.includes("'userB': ['127.0.0.1', " + bPort + ", 'Offline']")
    );

    const a0 = A.lines.length;
    for (let i = 1; i <= COUNT; i++) await A.type(`send userB durable ${i}`);
    await A.waitForCount(SAVED, COUNT, { from: a0 });

    first.kill("SIGKILL");
    await first.status;
    await first[Symbol.asyncDispose]();
    await using server = await startDurableServer(sp, nats);
    await server.waitFor(
      /^\[Node .* leads the chat: 100 stored messages restored, 1 session kept\.\]$/,
    );

    await using B = await startClient("userB", sp, bPort, {
      args: [],
    });
    const got = B.lines.filter((l) => /^userA: .*durable \d+$/.test(l));
    const want = Array.from({ length: COUNT }, (_, i) => `durable ${i + 1}`);
    await B.waitForCount(/^userA: .*durable \d+$/, COUNT);
    const texts = B.lines.filter((l) => /durable \d+$/.test(l)).map((l) =>
      l.replace(/^userA: (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d /, "")
    );
    assertEquals(texts, want, "all 100, once each, in order");
    assert(B.lines.includes("[You have offline messages:]"));
    void got;
    await A.waitForCount(
      /^\[Offline Message sent at .* received by userB\]$/,
      COUNT,
      {
        from: a0,
      },
    );
    // userA's session outlived the server: the restarted node leads the
    // same chat (its boot id, transit key and userA's token are in
    // JetStream), so userA was told the notices without registering again.
    assertEquals(A.count(RECOVERY, a0), 0, A.lines.join("\n"));
    await server.type("stats");
    for (const p of [A, B]) {
      await p.type("exit");
      assertEquals(await p.status, 0, p.label);
    }
  },
});

Deno.test({
  name:
    "--store nats://: NATS gone: saves refused with a clear line, chat goes on, saving comes back",
  ignore: NATS_SKIP_REASON !== undefined,
  fn: async () => {
    await using nats = await NatsServer.start();
    const sp = freePort();
    await using server = await startDurableServer(sp, nats);
    await using A = await startClient("userA", sp, freePort());
    await using B = await startClient("userB", sp, freePort());
    await using C = await startClient("userC", sp, freePort());
    await A.waitFor((l) => l.includes("'userC'"));
    await C.type("dereg userC");
    await C.waitFor("[You are Offline. Bye.]");
    await A.waitFor((l) => l.includes("'userC'") && l.includes("Offline"));

    await nats.kill("SIGKILL");
    await server.waitFor(/^\[Store unavailable/);
    const a0 = A.lines.length;
    await A.type("send userC while NATS is down");
    await A.waitFor(/^\[Message to userC not saved: /, { from: a0 });
    assert(
      !A.lines.slice(a0).some((l) => SAVED.test(l)),
      "never a false saved",
    );
    await A.type("send userB peer to peer still works");
    await B.waitFor(/^userA: .*peer to peer still works$/);
    await A.waitFor("[Message received by userB.]", { from: a0 });
    // The node goes on leading while NATS is gone, past its lease (a leader
    // that stepped down then answered nobody, and every client exited):
    // group messages keep going through the server for three leases.
    const t0 = performance.now();
    for (let i = 0; performance.now() - t0 < 3 * LEASE_MS && i < 5_000; i++) {
      const b = B.lines.length;
      await A.type(`send_all still here ${i}`);
      await B.waitFor((l) => l.endsWith(`userA: still here ${i}`), { from: b });
    }
    assert(!server.lines.some((l) => l.includes("follows the leading node")));

    await nats.restart();
    await server.waitFor(/^\[Store available again/);
    const a1 = A.lines.length;
    await A.type("send userC after NATS is back");
    await A.waitFor(SAVED, { from: a1 });
    await C.type("reg userC");
    await C.waitFor(/^userA: .*after NATS is back$/);
    assert(!C.lines.some((l) => l.includes("while NATS is down")));
    for (const p of [A, B, C]) {
      await p.type("exit");
      assertEquals(await p.status, 0, p.label);
    }
  },
});
