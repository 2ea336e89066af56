// The transit section (issue 14, "Benchmarks: `send` → ACK with encryption
// against the same run without, and the cost of a claimed registration, as
// ratios"), with real server processes driven over 127.0.0.1 by light
// clients (bench/_light_client.ts):
//
// - request → ACK, clear against sealed: the server seals only for clients
//   that gave an X25519 key (`xk`) in `reg` (server/transit.ts), so a light
//   client without one is the clear baseline and one with one (agreeing the
//   keys, sealing every request, opening every answer) the sealed run. Two
//   servers, one per mode (so a `send_all` reaches only its own mode's
//   recipient), each with a sender, an Online recipient and four Offline
//   users (each `send_all` also stores a copy for them);
//   the same requests go to both, alternately, 1 ms apart: `ka` → ACK (the
//   smallest round trip), `save` for the Offline user → ACK `saved` (what
//   `send` to an Offline user does) and `all` → ACK (`send_all`, one Online
//   recipient, which the server also sends the message to, sealed or not);
// - registration, `reg` → `welcome` on a fresh socket each time: unclaimed
//   (`reg`, cookie `retry`, `reg` with the cookie) against claimed (`reg`
//   with the Ed25519 public key, `retry` with a challenge, `reg` signed over
//   it: the client signs, the server verifies), both with `xk` as a real
//   client sends, and unclaimed without `xk`; all on one server, interleaved;
// - PBKDF2 (600,000 rounds) + HKDF of `--claim` (runtime/claim_key.ts), on
//   the client before it sends anything: timed apart.
import { claimKeyFromSeed } from "../protocol/claim.ts";
import { agreementKeyFromSecret } from "../protocol/e2e_crypto.ts";
import type { Message } from "../protocol/messages.ts";
import { deriveClaimKeys } from "../runtime/claim_key.ts";
import {
  closeAll,
  LightClient,
  type LightKeys,
  newTraffic,
  type Traffic,
} from "./_light_client.ts";
import { type Child, startServer } from "./_process.ts";
import { sleep } from "./_stats.ts";

const OFFLINE_USERS = 4;
// Registration names, distinct per kind.
const PREFIX = { clear: "rc", unclaimed: "ru", claimed: "rk" } as const;
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** Clear (no `xk`) or sealed (`xk`). */
export type TransitRun = "clear" | "sealed";

/** The round trips of one mode (ms each). */
export interface RoundTrips {
  /** `ka` → ACK. */
  keepalive: number[];
  /** `save` to an Offline user → ACK `saved`. */
  save: number[];
  /** `all` (one Online recipient) → ACK. */
  group: number[];
  /** Requests unanswered within 10 s, or answered otherwise. */
  lost: number;
  /** The other answers, counted. */
  why: Record<string, number>;
}

/** The registration times (ms each) by kind. */
export interface Registrations {
  /** Unclaimed, no `xk`: nothing sealed. */
  clear: number[];
  /** Unclaimed with `xk` (what a client without `--claim` sends). */
  unclaimed: number[];
  /** Claimed with `xk` (`--claim`): challenge, signature, verification. */
  claimed: number[];
  /** Registrations that failed. */
  failed: number;
  /** Why, counted. */
  why: Record<string, number>;
}

const keysFor = (run: TransitRun): LightKeys =>
  run === "sealed" ? { agreement: agreementKeyFromSecret(random(32)) } : {};

interface Side {
  run: TransitRun;
  child: Child;
  sender: LightClient;
  recipient: LightClient;
  times: RoundTrips;
}

async function side(run: TransitRun, traffic: Traffic): Promise<Side> {
  const { child, port } = await startServer();
  // Offline users, each sent a quarter of the saves (a recipient holds at
  // most 1,000 stored messages, and each `send_all` stores a copy for each).
  for (let g = 0; g < OFFLINE_USERS; g++) {
    const gone = new LightClient(
      `gone${g}`,
      port,
      traffic,
      "track",
      "127.0.0.1",
      keysFor(run),
    );
    if (!await gone.register() || !await gone.dereg()) {
      throw new Error(`transit (${run}): an Offline user did not register`);
    }
    await gone.close();
  }
  const sender = new LightClient(
    "tA",
    port,
    traffic,
    "track",
    "127.0.0.1",
    keysFor(run),
  );
  const recipient = new LightClient(
    "tB",
    port,
    traffic,
    "track",
    "127.0.0.1",
    keysFor(run),
  );
  for (const c of [sender, recipient]) {
    if (!await c.register()) {
      throw new Error(`transit (${run}): ${c.name} did not register`);
    }
    if (c.sealed !== (run === "sealed")) {
      throw new Error(`transit (${run}): ${c.name} sealed: ${c.sealed}`);
    }
  }
  return {
    run,
    child,
    sender,
    recipient,
    times: { keepalive: [], save: [], group: [], lost: 0, why: {} },
  };
}

async function timed(
  s: Side,
  m: Message & { id: number },
  isAnswer: (r: Message) => boolean,
  into: number[],
): Promise<void> {
  const t = performance.now();
  const r = await s.sender.request(m, 10_000);
  const ms = performance.now() - t;
  if (r !== undefined && isAnswer(r)) return void into.push(ms);
  s.times.lost++;
  const why = r === undefined
    ? "unanswered"
    : JSON.stringify({ ...r, id: undefined });
  s.times.why[why] = (s.times.why[why] ?? 0) + 1;
}

/**
 * `count` rounds of `ka`, `save` and `all` → ACK against a clear and a
 * sealed server, alternately.
 */
export async function transitRoundTrips(
  count: number,
): Promise<Record<TransitRun, RoundTrips>> {
  const traffic = newTraffic();
  const sides: Side[] = [];
  try {
    for (const run of ["clear", "sealed"] as const) {
      sides.push(await side(run, traffic));
    }
    // Let the registrations' table traffic settle.
    await sleep(500);
    // 20 rounds of warm-up (JIT, caches), not kept.
    for (let i = -20; i < count; i++) {
      for (const s of i % 2 === 0 ? sides : [...sides].reverse()) {
        const keep = (xs: number[]) => (i < 0 ? [] : xs);
        const { sender } = s;
        await timed(
          s,
          { t: "ka", id: sender.nextId(), tok: sender.tok },
          (r) => r.t === "ack",
          keep(s.times.keepalive),
        );
        await sleep(1);
        await timed(
          s,
          {
            t: "save",
            id: sender.nextId(),
            tok: sender.tok,
            to: `gone${(i + 20) % OFFLINE_USERS}`,
            k: `tA:save:${i}`,
            pi: 0,
            pn: 1,
            text: `an offline message of about forty bytes ${i}`,
          },
          (r) => r.t === "ack" && r.r === "saved",
          keep(s.times.save),
        );
        await sleep(1);
        await timed(
          s,
          {
            t: "all",
            id: sender.nextId(),
            tok: sender.tok,
            k: `tA:all:${i}`,
            pi: 0,
            pn: 1,
            text: `a group message of about forty bytes ${i}`,
          },
          (r) => r.t === "ack",
          keep(s.times.group),
        );
        // The copy to the recipient, its ACK and the `done` notice.
        await sleep(3);
      }
    }
    if (sides.some((s) => s.recipient.groupSeen < count)) {
      throw new Error("transit: a recipient missed group messages");
    }
  } finally {
    for (const s of sides) {
      await closeAll([s.sender, s.recipient]);
      await s.child.stop();
    }
  }
  return { clear: sides[0].times, sealed: sides[1].times };
}

/**
 * `count` registrations of each kind on one server, interleaved, each on a
 * fresh socket under a fresh name: `reg` → `welcome`.
 */
export async function registrations(count: number): Promise<Registrations> {
  const { child, port } = await startServer();
  const traffic = newTraffic();
  const out: Registrations = {
    clear: [],
    unclaimed: [],
    claimed: [],
    failed: 0,
    why: {},
  };
  const kinds = ["clear", "unclaimed", "claimed"] as const;
  try {
    for (let i = -10; i < count; i++) {
      for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
        // Keys made before the clock starts (a real client derives them
        // before it sends anything).
        const keys: LightKeys = kind === "clear" ? {} : {
          agreement: agreementKeyFromSecret(random(32)),
          ...(kind === "claimed"
            ? { claim: claimKeyFromSeed(random(32)) }
            : {}),
        };
        const c = new LightClient(
          `${PREFIX[kind]}${i + 10}`,
          port,
          traffic,
          "ignore",
          "127.0.0.1",
          keys,
        );
        const t = performance.now();
        const ok = await c.register(c.name, 10_000);
        const ms = performance.now() - t;
        if (!ok || c.sealed !== (kind !== "clear")) {
          out.failed++;
          const why = `${kind}: ${
            ok ? "not sealed as asked" : JSON.stringify(
              c.refusal === undefined
                ? "unanswered"
                : { ...c.refusal, id: undefined },
            )
          }`;
          out.why[why] = (out.why[why] ?? 0) + 1;
        } else if (i >= 0) out[kind].push(ms);
        // Offline before its socket closes: the server stops sending to it.
        await c.dereg(5_000);
        await c.close();
        await sleep(1);
      }
    }
  } finally {
    await child.stop();
  }
  return out;
}

/** `count` derivations of `--claim`'s keys from a passphrase (ms each). */
export async function claimDerivations(count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await deriveClaimKeys("correct horse battery staple", `user${i}`);
    out.push(performance.now() - t);
  }
  return out;
}
