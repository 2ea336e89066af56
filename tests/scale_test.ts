/**
 * A room of a thousand: one real server process and 1,000 simulated clients
 * in this process, each with its own UDP socket driving the real client state
 * machine. All register; every one converges to the complete, correct table
 * (1,000 rows, all Online, the right ports) with no datagram over 1,200
 * bytes; then one `send_all` reaches all 999 others exactly once, and its
 * sender is told the server has it and hears of no failed delivery.
 *
 * Waiting is by events (a promise settled from the clients' output), with a
 * generous safety net against hangs; nothing here measures time.
 */
import { ClientState } from "../client/state.ts";
import type { Machine } from "../protocol/machine.ts";
import { UdpDriver } from "../runtime/udp_driver.ts";
import type { Address } from "../protocol/address.ts";
import { decodeMessage } from "../protocol/codec.ts";
import { MAX_DATAGRAM_BYTES } from "../protocol/constants.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import { assert, assertEquals } from "./_assert.ts";
import { freePort, serverStats, startServer } from "./_proc.ts";

const N = 1000;
const GROUP_TEXT = "hello, room of a thousand";
/** A safety net against hangs, not a timing assertion. */
const SAFETY_MS = 120_000;

interface Sim {
  name: string;
  port: number;
  state: ClientState;
  driver: UdpDriver<OutputEvent>;
  done: Promise<void>;
  events: OutputEvent[];
  /** Datagrams received, and how many of them were table parts. */
  received: number;
  tables: number;
  /** Table rows received (a full table is N). */
  rows: number;
  /** How often this client showed the group message. */
  shown: number;
  complete: boolean;
}

/** Settles when `ready()` holds, checked after every step of any client. */
class Gate {
  #ready: () => boolean;
  #resolve: () => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly promise: Promise<boolean>;

  constructor(ready: () => boolean) {
    this.#ready = ready;
    this.promise = new Promise<boolean>((resolve) => {
      this.#resolve = () => {
        clearTimeout(this.#timer);
        resolve(this.#ready());
      };
      this.#timer = setTimeout(this.#resolve, SAFETY_MS);
    });
  }

  check(): void {
    if (this.#ready()) this.#resolve();
  }

  /** Stops waiting (the timer is cleared). */
  cancel(): void {
    this.#resolve();
  }
}

Deno.test("1,000 clients converge to the full table under 1,200 bytes a datagram; one send_all reaches all 999 once", async () => {
  const serverPort = freePort();
  await using server = await startServer(serverPort);
  const serverAddr: Address = { hostname: "127.0.0.1", port: serverPort };
  const sims: Sim[] = [];
  const byName = new Map<string, Sim>();
  let largest = 0;
  let converged = 0;
  let reached = 0;
  const isComplete = (s: Sim) =>
    s.state.table.length === N && s.state.table.every((r) => r[3] === 1);
  let gate: Gate | undefined;

  try {
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
      const sim = {
        name: `u${i}`,
        port: (conn.addr as Deno.NetAddr).port,
        state,
        events: [],
        received: 0,
        tables: 0,
        rows: 0,
        shown: 0,
        complete: false,
      } as unknown as Sim;
      // Every datagram is measured on its way in. (The driver receives into
      // one reused 65,507-byte buffer, so an oversized one would show here.)
      const machine: Machine<OutputEvent> = {
        receiveDatagram: (bytes, from, now) => {
          if (bytes.length > largest) largest = bytes.length;
          sim.received++;
          const d = decodeMessage(bytes);
          if (d.ok && d.message.t === "tbl") {
            sim.tables++;
            sim.rows += d.message.rows.length;
          }
          state.receiveDatagram(bytes, from, now);
        },
        handleTimer: (now) => state.handleTimer(now),
        getTimer: () => state.getTimer(),
        datagramsToSend: () => state.datagramsToSend(),
        events: () => state.events().map(describeClientEvent),
      };
      sim.driver = new UdpDriver(conn, machine, {
        print: (e) => {
          sim.events.push(e);
          if (e.event === "group_message" && e.text.endsWith(GROUP_TEXT)) {
            if (sim.shown++ === 0) reached++;
          }
        },
        afterStep: () => {
          if (!sim.complete && isComplete(sim)) {
            sim.complete = true;
            converged++;
          }
          gate?.check();
        },
      });
      sim.done = sim.driver.run();
      sims.push(sim);
      byName.set(sim.name, sim);
      state.start(Date.now());
      sim.driver.step();
      // Let the receive loops run between registrations.
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, 0));
    }

    // Everyone converges to the full table.
    gate = new Gate(() => converged === N);
    gate.check();
    await gate.promise;
    assertEquals(converged, N, `${converged} of ${N} clients converged`);
    // Complete and correct everywhere: every name once, at the port it
    // registered from, Online.
    for (const s of sims) {
      const names = new Set<string>();
      for (const [name, ip, port, online] of s.state.table) {
        const owner = byName.get(name);
        assert(owner !== undefined, `${s.name}: unknown row ${name}`);
        assertEquals(
          [ip, port, online],
          ["127.0.0.1", owner.port, 1],
          `${s.name}: row ${name}`,
        );
        names.add(name);
      }
      assertEquals(names.size, N, `${s.name}: ${names.size} distinct rows`);
    }
    assert(largest <= MAX_DATAGRAM_BYTES, `largest datagram ${largest} bytes`);
    // Table updates are gathered: no client gets anywhere near one table
    // datagram per registration (that would be N each, N² in all).
    const tables = sims.reduce((sum, s) => sum + s.tables, 0);
    const mostTables = Math.max(...sims.map((s) => s.tables));
    const rows = sims.reduce((sum, s) => sum + s.rows, 0);
    const stats = await serverStats(server);
    // deno-lint-ignore no-console
    console.log(
      `registration storm: the server sent ${stats.out} datagrams (${stats.retransmitted} retransmitted); the clients got ${tables} table parts, ${
        (tables / N).toFixed(1)
      } each (at most ${mostTables}), holding ${
        (rows / N / N).toFixed(2)
      } full tables' worth of rows each`,
    );
    assert(mostTables < N / 4, `a client got ${mostTables} table datagrams`);

    // One send_all reaches all 999 others, ACKed by each.
    const sender = sims[0];
    const before = sender.events.length;
    gate = new Gate(() => reached === N - 1 && sender.state.idle);
    sender.state.command(`send_all ${GROUP_TEXT}`, Date.now());
    sender.driver.step();
    await gate.promise;
    for (const s of sims) {
      assertEquals(s.shown, s === sender ? 0 : 1, `${s.name} showed it`);
    }
    const texts = sender.events.slice(before).map((e) => e.text);
    assertEquals(
      texts.filter((t) => t === "[Group Message received by Server.]").length,
      1,
    );
    assertEquals(texts.filter((t) => t.startsWith("[No ACK from")), []);
    assert(sender.state.idle, "every recipient resolved");
    assert(largest <= MAX_DATAGRAM_BYTES, `largest datagram ${largest} bytes`);
  } finally {
    gate?.cancel();
    await Promise.all(sims.map((s) => s.driver.close()));
    await Promise.all(sims.map((s) => s.done));
    server.kill("SIGINT");
    await server.status;
  }
});
