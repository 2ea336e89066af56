/**
 * A room of two thousand: one real server process and 2,000 simulated
 * clients in this process, each with its own UDP socket driving the real
 * client state machine. All register; every one learns the room's count (a
 * big room's clients hold a summary, not the table: protocol/README.md,
 * "Rooms") and none holds more rows than it looked up; then every client
 * sends a private message by name to another (a permutation, so each also
 * receives one), which it looks up and reaches; no datagram in either
 * direction is over 1,200 bytes. Then one `send_all` reaches all 1,999
 * others exactly once.
 *
 * Waiting is by events (a promise settled from the clients' output), with a
 * generous safety net against hangs; nothing here measures time.
 */
import { ClientState } from "../client/state.ts";
import { LOOKUP_CACHE } from "../client/table_replica.ts";
import type { Machine } from "../protocol/machine.ts";
import { UdpDriver } from "../runtime/udp_driver.ts";
import type { Address } from "../protocol/address.ts";
import { decodeMessage } from "../protocol/codec.ts";
import { MAX_DATAGRAM_BYTES } from "../protocol/constants.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import { assert, assertEquals } from "./_assert.ts";
import { freePort, serverStats, startServer } from "./_proc.ts";

const N = 2000;
/** Clients that send their private message at once. */
const WAVE = 100;
const GROUP_TEXT = "hello, room of two thousand";
/** A safety net against hangs, not a timing assertion. */
const SAFETY_MS = 150_000;

interface Sim {
  name: string;
  port: number;
  state: ClientState;
  driver: UdpDriver<OutputEvent>;
  done: Promise<void>;
  events: OutputEvent[];
  /** Table and summary datagrams received. */
  tables: number;
  /** Table rows received in `tbl` datagrams. */
  rows: number;
  /** The last table line's counts. */
  users: number;
  online: number;
  /** Private messages shown, and "[Message received by X.]" lines. */
  got: string[];
  receipts: number;
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

/** Who `u{i}` writes to: a permutation (7 and 2,000 are coprime). */
const target = (i: number) => (7 * i + 13) % N;

Deno.test("2,000 clients register, each knows the count and reaches another by name; no datagram over 1,200 bytes; one send_all reaches all 1,999 once", async () => {
  const serverPort = freePort();
  await using server = await startServer(serverPort);
  const serverAddr: Address = { hostname: "127.0.0.1", port: serverPort };
  const sims: Sim[] = [];
  const byName = new Map<string, Sim>();
  let largest = 0;
  let converged = 0;
  let delivered = 0;
  let acknowledged = 0;
  let reached = 0;
  let gate: Gate | undefined;
  const measure = (bytes: Uint8Array) => {
    if (bytes.length > largest) largest = bytes.length;
  };

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
        tables: 0,
        rows: 0,
        users: 0,
        online: 0,
        got: [],
        receipts: 0,
        shown: 0,
        complete: false,
      } as unknown as Sim;
      // Every datagram is measured on its way in and on its way out. (The
      // driver receives into one reused 65,507-byte buffer, so an oversized
      // one would show here.)
      const machine: Machine<OutputEvent> = {
        receiveDatagram: (bytes, from, now) => {
          measure(bytes);
          const d = decodeMessage(bytes);
          if (d.ok && (d.message.t === "tbl" || d.message.t === "sum")) {
            sim.tables++;
            if (d.message.t === "tbl") sim.rows += d.message.rows.length;
          }
          state.receiveDatagram(bytes, from, now);
        },
        handleTimer: (now) => state.handleTimer(now),
        getTimer: () => state.getTimer(),
        datagramsToSend: () => {
          const out = state.datagramsToSend();
          for (const d of out) measure(d.bytes);
          return out;
        },
        events: () => state.events().map(describeClientEvent),
      };
      sim.driver = new UdpDriver(conn, machine, {
        print: (e) => {
          sim.events.push(e);
          if (e.event === "table") {
            const data = e.data as { users: number; online?: number };
            sim.users = data.users;
            sim.online = data.online ?? -1;
          } else if (e.event === "message") {
            sim.got.push(e.text);
            delivered++;
          } else if (e.event === "received") {
            sim.receipts++;
            acknowledged++;
          } else if (
            e.event === "group_message" && e.text.endsWith(GROUP_TEXT)
          ) {
            if (sim.shown++ === 0) reached++;
          }
        },
        afterStep: () => {
          if (!sim.complete && sim.users === N && sim.online === N) {
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

    // Everyone learns the room: 2,000 users, all Online.
    gate = new Gate(() => converged === N);
    gate.check();
    await gate.promise;
    assertEquals(converged, N, `${converged} of ${N} clients know the room`);
    const stats = await serverStats(server);
    const tables = sims.reduce((sum, s) => sum + s.tables, 0);
    const mostTables = Math.max(...sims.map((s) => s.tables));
    const rows = sims.reduce((sum, s) => sum + s.rows, 0);
    // deno-lint-ignore no-console
    console.log(
      `registration storm: the server sent ${stats.out} datagrams (${
        (stats.out / N).toFixed(1)
      } per client, ${stats.retransmitted} retransmitted); the clients got ${tables} table datagrams, ${
        (tables / N).toFixed(1)
      } each (at most ${mostTables}), ${rows} table rows in all`,
    );
    // O(N), not O(N²): no client holds, or was sent, the whole table.
    for (const s of sims) {
      assert(s.state.table.length <= LOOKUP_CACHE, `${s.name} holds rows`);
    }
    assert(rows < N * 64, `the clients were sent ${rows} table rows`);
    assert(mostTables < N / 4, `a client got ${mostTables} table datagrams`);
    assert(largest <= MAX_DATAGRAM_BYTES, `largest datagram ${largest} bytes`);

    // Every client writes to another by name; each is shown once, ACKed.
    // In waves: 2,000 clients in one process sending at once would delay
    // their own ACKs past the server's window (it would mark them Offline
    // and save the messages, which is correct but not what this checks).
    for (let wave = 0; wave < N; wave += WAVE) {
      const end = Math.min(N, wave + WAVE);
      gate = new Gate(() => delivered === end && acknowledged === end);
      for (let i = wave; i < end; i++) {
        const s = sims[i];
        s.state.command(`send u${target(i)} hello from u${i}`, Date.now());
        s.driver.step();
      }
      gate.check();
      await gate.promise;
      assertEquals([delivered, acknowledged], [end, end], "wave delivered");
    }
    for (let i = 0; i < N; i++) {
      const to = sims[target(i)];
      assertEquals(to.got, [`u${i}: hello from u${i}`], `${to.name} got`);
      assertEquals(sims[i].receipts, 1, `u${i}'s message was received`);
    }
    const rowsHeld = sims.reduce((sum, s) => sum + s.state.table.length, 0);
    // deno-lint-ignore no-console
    console.log(
      `private messages: ${N} sent and received; the clients hold ${
        (rowsHeld / N).toFixed(1)
      } rows each`,
    );
    assert(largest <= MAX_DATAGRAM_BYTES, `largest datagram ${largest} bytes`);

    // One send_all reaches all 1,999 others, ACKed by each.
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
