/**
 * A room of a thousand: 1,000 simulated clients (one process, one socket
 * each, the real client state machine) register with one real server
 * process; every one converges to the complete, correct table with no
 * datagram over 1,200 bytes; then one send_all reaches all 999 others.
 */
import { ClientState } from "../client/state.ts";
import { type Machine, UdpDriver } from "../cli/udp_driver.ts";
import type { Address } from "../protocol/address.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { assert, assertEquals } from "./_assert.ts";
import { freePort, startServer } from "./_proc.ts";

const N = 1000;

interface Sim {
  name: string;
  state: ClientState;
  driver: UdpDriver;
  done: Promise<void>;
  port: number;
  events: OutputEvent[];
}

Deno.test("1,000 clients converge to the full table under 1,200 bytes a datagram; send_all reaches all 999", async () => {
  const sp = freePort();
  await using server = await startServer(sp);
  const serverAddr: Address = { hostname: "127.0.0.1", port: sp };
  let largest = 0;
  let converged = 0;
  const { promise: allConverged, resolve: onAllConverged } = Promise
    .withResolvers<void>();
  const sims: Sim[] = [];
  const isComplete = (s: Sim) =>
    s.state.table.length === N && s.state.table.every((r) => r[3] === 1);
  const seen = new Set<Sim>();
  let groupShown = 0;
  const { promise: allShown, resolve: onAllShown } = Promise.withResolvers<
    void
  >();

  for (let i = 0; i < N; i++) {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const state = new ClientState({
      name: `u${i}`,
      server: serverAddr,
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    });
    // Measure every datagram on its way in.
    const machine: Machine = {
      receiveDatagram: (bytes, from, now) => {
        if (bytes.length > largest) largest = bytes.length;
        state.receiveDatagram(bytes, from, now);
      },
      handleTimer: (now) => state.handleTimer(now),
      getTimer: () => state.getTimer(),
      datagramsToSend: () => state.datagramsToSend(),
      events: () => state.events(),
    };
    const sim = {} as Sim;
    const driver = new UdpDriver(conn, machine, {
      print: (e) => {
        sim.events.push(e);
        if (
          e.event === "group_message" && e.text === "Group Chat u0: hello, room"
        ) {
          if (++groupShown === N - 1) onAllShown();
        }
      },
      afterStep: () => {
        if (!seen.has(sim) && isComplete(sim)) {
          seen.add(sim);
          if (++converged === N) onAllConverged();
        }
      },
    });
    Object.assign(sim, {
      name: `u${i}`,
      state,
      driver,
      port: (conn.addr as Deno.NetAddr).port,
      events: [],
    });
    sim.done = driver.run();
    sims.push(sim);
    state.start(Date.now());
    driver.step();
    // Let the receive loops run between registrations.
    if (i % 25 === 24) await new Promise((r) => setTimeout(r, 0));
  }

  const safety = setTimeout(() => onAllConverged(), 90_000);
  await allConverged;
  clearTimeout(safety);
  try {
    assertEquals(converged, N, `${converged} of ${N} clients converged`);
    // The table is complete and correct everywhere: names, ports, registration order.
    const expected = sims.map((s) => `${s.name}:${s.port}`);
    for (const s of sims) {
      const got = s.state.table.map(([name, , port]) => `${name}:${port}`);
      assertEquals(got.length, N);
      assertEquals(new Set(got), new Set(expected));
      assert(s.state.table.every(([, ip]) => ip === "127.0.0.1"));
    }
    assert(largest <= 1200, `largest datagram ${largest} bytes`);

    // One send_all reaches all 999 others, ACKed by each.
    const sender = sims[0];
    sender.state.command("send_all hello, room", Date.now());
    sender.driver.step();
    const safety2 = setTimeout(() => onAllShown(), 60_000);
    await allShown;
    clearTimeout(safety2);
    assertEquals(groupShown, N - 1);
    // The sender is told the server has it, and nobody failed to ACK.
    const waitIdle = async () => {
      for (let i = 0; i < 600 && !sender.state.idle; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitIdle();
    const texts = sender.events.map((e) => e.text);
    assert(texts.includes("[Group Message received by Server.]"));
    assertEquals(texts.filter((t) => t.startsWith("[No ACK from")), []);
    assert(sender.state.idle, "every recipient resolved");
    assert(largest <= 1200, `largest datagram ${largest} bytes`);
  } finally {
    await Promise.all(sims.map((s) => s.driver.close()));
    await Promise.all(sims.map((s) => s.done));
    server.kill("SIGINT");
  }
});
