/**
 * Dual-stack: one server (default bind) takes clients over IPv6 and IPv4;
 * tables show each client's own address family; messages cross between
 * them; `--bind` is not needed for either. Real processes on ::1 and
 * 127.0.0.1.
 */
import { assert, assertEquals } from "./_assert.ts";
import { freePort, startClient, startServer } from "./_proc.ts";

function hasIPv6Loopback(): boolean {
  try {
    const s = Deno.listenDatagram({
      transport: "udp",
      hostname: "::1",
      port: 0,
    });
    s.close();
    return true;
  } catch {
    return false;
  }
}

const ipv6 = hasIPv6Loopback();
if (!ipv6) {
  // deno-lint-ignore no-console
  console.warn(
    "e2e_dual_stack_test: skipped, no IPv6 loopback (::1) on this host",
  );
}

Deno.test({
  name:
    "a client on ::1 and one on 127.0.0.1 register with one server and chat",
  ignore: !ipv6,
  fn: async () => {
    const sp = freePort();
    const [a, b] = [freePort(), freePort()];
    await using server = await startServer(sp);
    await using A = await startClient("userA", sp, a, { host: "::1" });
    await using B = await startClient("userB", sp, b, { host: "[::1]" });
    await using C = await startClient("userC", sp, freePort());
    const table = await A.waitFor((l) => l.includes("'userC'"));
    const row = A.lines[table];
    assert(row.includes(`'userA': ['::1', ${a}, 'Online']`), row);
    assert(row.includes(`'userB': ['::1', ${b}, 'Online']`), row);
    assert(row.includes("'userC': ['127.0.0.1', "), row);

    await C.type("send userA hello from IPv4");
    await A.waitFor(/^userC: .*hello from IPv4$/);
    await C.waitFor("[Message received by userA.]");
    await A.type("send userC hello from IPv6");
    await C.waitFor(/^userA: .*hello from IPv6$/);
    await A.waitFor("[Message received by userC.]");
    await B.type("send_all to both families");
    await A.waitFor("Group Chat userB: to both families");
    await C.waitFor("Group Chat userB: to both families");
    await server.waitFor(
      "[Client userB sent group message: to both families ]",
    );
    for (const p of [A, B, C]) {
      await p.type("exit");
      assertEquals(await p.status, 0);
    }
  },
});
