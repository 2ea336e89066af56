// deno-lint-ignore-file no-console
/**
 * The cost of transit sealing (protocol/transit_crypto.ts), in process: the
 * real server and client cores joined by an in-memory router (no sockets,
 * so the figures are the cores' CPU cost, which sealing adds to), each
 * figure a median of repeated runs with sealing on against the same run with
 * it off (the `transit: "clear"` core option, benchmarks only).
 *
 * ```sh
 * deno run --allow-all bench/transit.ts            # about 20 s
 * deno run --allow-all bench/transit.ts --quick    # a few seconds
 * ```
 *
 * @module
 */
// deno-lint-ignore no-import-prefix
import { chacha20poly1305 } from "npm:@noble/ciphers@2.4.0/chacha.js";
// deno-lint-ignore no-import-prefix
import { gcm } from "npm:@noble/ciphers@2.4.0/aes.js";
import { type Address, addressKey } from "../protocol/address.ts";
import { agreementKeyFromSecret } from "../protocol/e2e_crypto.ts";
import type { Machine } from "../protocol/machine.ts";
import { ClientState } from "../client/state.ts";
import { ServerState, type TransitMode } from "../server/state.ts";

const quick = Deno.args.includes("--quick");
const SERVER: Address = { hostname: "127.0.0.1", port: 5000 };
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Machines at addresses; delivers every datagram at once, in order. */
class Router {
  nodes = new Map<string, { addr: Address; m: Machine<unknown> }>();
  add(addr: Address, m: Machine<unknown>): void {
    this.nodes.set(addressKey(addr), { addr, m });
  }
  pump(now: number): void {
    for (let moved = true; moved;) {
      moved = false;
      for (const { addr, m } of this.nodes.values()) {
        m.events();
        for (const d of m.datagramsToSend()) {
          moved = true;
          this.nodes.get(addressKey(d.to))?.m.receiveDatagram(
            d.bytes,
            addr,
            now,
          );
        }
      }
    }
  }
}

function room(n: number, transit: TransitMode) {
  const router = new Router();
  const server = new ServerState({
    random,
    transit,
    limits: { maxUsers: n + 10, rateLimit: 1e9, capacity: 1e9 },
  });
  router.add(SERVER, server as Machine<unknown>);
  const clients: ClientState[] = [];
  let now = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    const c = new ClientState({
      name: `u${i}`,
      server: SERVER,
      random,
      agreement: agreementKeyFromSecret(random(32)),
    });
    router.add({ hostname: "127.0.0.1", port: 6000 + i }, c);
    clients.push(c);
    c.start(now);
    router.pump(now);
    now += 20;
    server.handleTimer(now);
    router.pump(now);
  }
  return { router, server, clients, now: () => (now += 1) };
}

/** `send_all` → the server's ACK, per message (µs). */
function groupRoundTrip(transit: TransitMode, runs: number): number {
  const { router, clients, now } = room(2, transit);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    clients[0].command(`send_all message number ${i} of the bench`, now());
    router.pump(now());
    times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

/** One `send_all` relayed to `n` clients: the server's time (ms). */
function fanOut(transit: TransitMode, n: number, runs: number): number {
  const { router, server, clients, now } = room(n, transit);
  const times: number[] = [];
  const sender = { hostname: "127.0.0.1", port: 6000 };
  for (let i = 0; i < runs; i++) {
    clients[0].command(`send_all fan-out ${i}`, now());
    const [up] = clients[0].datagramsToSend();
    const t0 = performance.now();
    server.receiveDatagram(up.bytes, sender, now());
    const out = server.datagramsToSend();
    times.push(performance.now() - t0);
    // Deliver, so that ACKs settle before the next run.
    for (const d of out) {
      const node = router.nodes.get(addressKey(d.to));
      node?.m.receiveDatagram(d.bytes, SERVER, now());
    }
    router.pump(now());
  }
  return median(times);
}

/** An unclaimed registration, `reg` → `retry` → `reg` → welcome → table (µs). */
function registration(transit: TransitMode, runs: number): number {
  const times: number[] = [];
  const router = new Router();
  const server = new ServerState({
    random,
    transit,
    limits: { maxUsers: runs + 10, rateLimit: 1e9, capacity: 1e9 },
  });
  router.add(SERVER, server as Machine<unknown>);
  let now = 1_700_000_000_000;
  for (let i = 0; i < runs; i++) {
    const c = new ClientState({
      name: `r${i}`,
      server: SERVER,
      random,
      agreement: agreementKeyFromSecret(random(32)),
    });
    router.add({ hostname: "127.0.0.1", port: 7000 + i }, c);
    const t0 = performance.now();
    c.start(now);
    router.pump(now);
    now += 20;
    server.handleTimer(now);
    router.pump(now);
    times.push((performance.now() - t0) * 1000);
    router.nodes.delete(addressKey({ hostname: "127.0.0.1", port: 7000 + i }));
  }
  return median(times);
}

/** One AEAD over a 200-byte datagram (µs). */
function aead(kind: "chacha" | "gcm", runs: number): number {
  const key = random(32), nonce = random(12), plain = random(200);
  const times: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) {
      const c = kind === "chacha"
        ? chacha20poly1305(key, nonce)
        : gcm(key, nonce);
      c.encrypt(plain);
    }
    times.push(((performance.now() - t0) * 1000) / runs);
  }
  return median(times);
}

const runs = quick ? 200 : 3000;
const fanRuns = quick ? 3 : 15;
const regRuns = quick ? 50 : 500;
const results: Record<string, number> = {};
aead("chacha", 1000); // warm-up
results.chachaUs = aead("chacha", quick ? 2000 : 20000);
results.gcmUs = aead("gcm", quick ? 2000 : 20000);
for (const mode of ["clear", "sealed", "clear", "sealed"] as const) {
  results[`group_${mode}_us`] = groupRoundTrip(mode, runs); // 2nd pass kept
}
for (const mode of ["clear", "sealed"] as const) {
  results[`fanout1000_${mode}_ms`] = fanOut(mode, 1000, fanRuns);
  results[`reg_${mode}_us`] = registration(mode, regRuns);
}
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log(
  `AEAD, 200-byte datagram: ChaCha20-Poly1305 ${
    results.chachaUs.toFixed(2)
  } µs, AES-256-GCM ${results.gcmUs.toFixed(2)} µs`,
);
console.log(
  `send_all → ACK (cores, median): clear ${
    results.group_clear_us.toFixed(0)
  } µs, sealed ${results.group_sealed_us.toFixed(0)} µs, ratio ${
    ratio(results.group_sealed_us, results.group_clear_us)
  }`,
);
console.log(
  `send_all fan-out to 1,000 (server, median): clear ${
    results.fanout1000_clear_ms.toFixed(1)
  } ms, sealed ${results.fanout1000_sealed_ms.toFixed(1)} ms, ratio ${
    ratio(results.fanout1000_sealed_ms, results.fanout1000_clear_ms)
  }`,
);
console.log(
  `registration (unclaimed, median): clear ${
    results.reg_clear_us.toFixed(0)
  } µs, sealed ${results.reg_sealed_us.toFixed(0)} µs, ratio ${
    ratio(results.reg_sealed_us, results.reg_clear_us)
  }`,
);
