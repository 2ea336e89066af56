/**
 * Clients that recover: an in-memory server killed (SIGKILL) and started
 * again on the same port while three clients sit idle. Each client notices
 * through its keepalive, registers again by itself and says so in one line;
 * then a newcomer reaches an idle user and a `send_all` reaches everyone.
 * Real processes on 127.0.0.1; the clients run with a 1 s keepalive so the
 * test takes seconds, not the default 15 to 25.
 */
import { assertEquals } from "./_assert.ts";
import { freePort, startClient, startServer } from "./_proc.ts";

const KEEPALIVE = ["--keepalive", "1"];
const RESTARTED = "[The server restarted; registered again.]";

Deno.test("a killed in-memory server is restarted: idle clients register again by themselves", async () => {
  const sp = freePort();
  const first = await startServer(sp);
  await using A = await startClient("userA", sp, freePort(), {
    args: KEEPALIVE,
  });
  await using B = await startClient("userB", sp, freePort(), {
    args: KEEPALIVE,
  });
  await using C = await startClient("userC", sp, freePort(), {
    args: KEEPALIVE,
  });
  await A.waitFor((l) => l.includes("'userC'"));
  first.kill("SIGKILL");
  await first.status;
  await first[Symbol.asyncDispose]();

  await using server = await startServer(sp);
  for (const p of [A, B, C]) await p.waitFor(RESTARTED);
  // Nothing typed: the table the new server sends shows all three Online.
  await C.waitFor((l) =>
    l.includes("'userA'") && l.includes("'userB'") && l.includes("'userC'") &&
    !l.includes("Offline")
  );

  await using D = await startClient("userD", sp, freePort());
  await D.type("send userA are you there?");
  await A.waitFor(/^userD: .*are you there\?$/);
  await D.waitFor("[Message received by userA.]");
  await D.type("send_all hello everyone");
  for (const p of [A, B, C]) {
    await p.waitFor("Group Chat userD: hello everyone");
  }
  await D.waitFor("[Group Message received by Server.]");
  await server.waitFor("[Client userD sent group message: hello everyone ]");
  for (const p of [A, B, C, D]) {
    assertEquals(p.count(RESTARTED), p === D ? 0 : 1, p.label);
    await p.type("exit");
    assertEquals(await p.status, 0, `${p.label} exits with 0`);
  }
});
