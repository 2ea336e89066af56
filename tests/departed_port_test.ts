/**
 * A process that takes over a departed client's port reads nothing of a
 * private message sent to that client's name (issue 14; protocol/README.md,
 * "Threat model"). Real processes over 127.0.0.1: userB is killed with
 * SIGKILL (no `dereg`, so everyone still has it Online at its port, with its
 * key), the test binds that port, and userA sends to userB. The socket may
 * receive the message, peer to peer or relayed by the server, but sealed to
 * userB's key: no datagram holds the text's UTF-8.
 */
import { assert } from "./_assert.ts";
import { freePort, startClient, startServer } from "./_proc.ts";

const SAFETY_MS = 30_000; // against hangs; not a timing assertion

/** Whether `needle` occurs in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * userA and userB registered, userB killed with SIGKILL (still Online in
 * every table), and a socket bound to userB's port collecting what arrives.
 */
async function departedPort() {
  const [serverPort, aPort, bPort] = [freePort(), freePort(), freePort()];
  const server = await startServer(serverPort);
  const A = await startClient("userA", serverPort, aPort);
  const B = await startClient("userB", serverPort, bPort);
  await A.waitFor(
    `{'userA': ['127.0.0.1', ${aPort}, 'Online'], 'userB': ['127.0.0.1', ${bPort}, 'Online']}`,
    { timeoutMs: SAFETY_MS },
  );
  B.kill("SIGKILL");
  await B.status;
  await B[Symbol.asyncDispose]();

  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: bPort,
  });
  const received: { bytes: Uint8Array; port: number }[] = [];
  // Resolved by the first datagram from the server.
  const fromServer = Promise.withResolvers<void>();
  const listening = (async () => {
    try {
      for (;;) {
        const [bytes, addr] = await socket.receive();
        const port = (addr as Deno.NetAddr).port;
        received.push({ bytes, port });
        if (port === serverPort) fromServer.resolve();
      }
    } catch {
      // Closed.
    }
  })();
  return {
    A,
    received,
    fromServer: fromServer.promise,
    /** Closes the socket, then userA (`exit`) and the server (SIGINT). */
    async [Symbol.asyncDispose]() {
      socket.close();
      await listening;
      await A.type("exit");
      await A.status;
      await A[Symbol.asyncDispose]();
      server.kill("SIGINT");
      await server.status;
      await server[Symbol.asyncDispose]();
    },
  };
}

/** No datagram holds any of `pieces` as UTF-8. */
function assertNoneHolds(
  received: readonly { bytes: Uint8Array }[],
  pieces: readonly string[],
): void {
  const utf8 = new TextEncoder();
  for (const { bytes } of received) {
    for (const piece of pieces) {
      assert(
        !contains(bytes, utf8.encode(piece)),
        `"${piece}" in ${new TextDecoder().decode(bytes)}`,
      );
    }
  }
}

Deno.test("a socket bound to a departed client's port receives nothing readable of a private message to its name", async () => {
  await using t = await departedPort();
  const { A, received } = t;
  const secret = "for userB only: the vault code is Qx9-Lm4";
  const a0 = A.lines.length;
  await A.type(`send userB ${secret}`);
  // Nobody ACKs as userB: userA's direct try expires, the server's relay
  // expires, and the message is saved (sealed) for userB, now Offline.
  await A.waitFor(
    /^\[Offline Message sent at .* received by the server and saved\.\]$/,
    { from: a0, timeoutMs: SAFETY_MS },
  );
  assert(received.length > 0, "the port received nothing at all");
  assertNoneHolds(received, [secret, "vault code", "Qx9-Lm4"]);
});

Deno.test("a socket bound to a departed client's port reads nothing of the group messages the server relays to it", async () => {
  await using t = await departedPort();
  const { A, received } = t;
  const secret = "group words the squatter wants: Zk7-Rp2";
  const a0 = A.lines.length;
  await A.type(`send_all ${secret}`);
  await A.waitFor("[Group Message received by Server.]", {
    from: a0,
    timeoutMs: SAFETY_MS,
  });
  // The server relays the part to userB's port (still Online there).
  await t.fromServer;
  assertNoneHolds(received, [secret, "squatter", "Zk7-Rp2", "userA"]);
});
