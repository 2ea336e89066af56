/**
 * Unit tests of the Retransmitter (protocol/reliable.ts): backoff inside the
 * ACK window, the RFC 6298 estimator, and the per-send outcome handlers.
 */
import {
  INITIAL_RTO_MS,
  MAX_RTO_MS,
  MIN_RTO_MS,
} from "../protocol/constants.ts";
import { Outbox } from "../protocol/machine.ts";
import { Retransmitter, type SendOptions } from "../protocol/reliable.ts";
import { assert, assertEquals } from "./_assert.ts";

const TO = { hostname: "127.0.0.1", port: 5000 };

/** What happened to the sends made through {@linkcode sendTracked}. */
interface Log {
  sends: number[];
  acked: { name: string; elapsed: number }[];
  expired: { at: number; name: string }[];
}

function setup(): { r: Retransmitter; out: Outbox; log: Log } {
  const out = new Outbox();
  return {
    r: new Retransmitter(out),
    out,
    log: { sends: [], acked: [], expired: [] },
  };
}

/** Sends datagram `id` whose handlers record `name` in the log. */
function sendTracked(
  env: { r: Retransmitter; log: Log },
  send: { id: number; name: string; now: number; bytes?: number },
  options: SendOptions = {},
): void {
  env.r.send(
    { id: send.id, to: TO, bytes: new Uint8Array([send.bytes ?? 1]) },
    send.now,
    {
      ...options,
      onAck: ({ elapsed }) => env.log.acked.push({ name: send.name, elapsed }),
      onExpire: (at) => env.log.expired.push({ at, name: send.name }),
    },
  );
}

/** Runs the timer until `until`, recording the time of every datagram sent. */
function drive(
  env: { r: Retransmitter; out: Outbox; log: Log },
  until: number,
): void {
  for (;;) {
    const t = env.r.nextTimer();
    if (t === undefined || t > until) break;
    env.r.poll(t);
    for (const _ of env.out.take()) env.log.sends.push(t);
  }
}

Deno.test("Retransmitter.send() resends with exponential backoff inside the 500 ms window, then runs onExpire", () => {
  const env = setup();
  assertEquals(env.r.rto, INITIAL_RTO_MS);
  sendTracked(env, { id: 1, name: "req", now: 0 });
  assertEquals(env.out.take().length, 1);
  assertEquals(env.r.nextTimer(), INITIAL_RTO_MS);
  drive(env, 10_000);
  // 40, then gaps of 80 (the cap): six retransmissions, seven tries in all.
  assertEquals(env.log.sends, [40, 120, 200, 280, 360, 440]);
  assertEquals(env.log.expired, [{ at: 500, name: "req" }]);
  assertEquals(env.log.acked, []);
  assertEquals(env.r.retransmissions, 6);
  assertEquals(env.r.size, 0);
  assertEquals(env.r.nextTimer(), undefined);
});

Deno.test("Retransmitter.poll() expires nothing before the deadline", () => {
  const env = setup();
  sendTracked(env, { id: 1, name: "a", now: 1000 });
  assertEquals(env.r.poll(1499), 0);
  assert(env.r.has(1));
  assertEquals(env.r.poll(1500), 1);
  assertEquals(env.log.expired, [{ at: 1500, name: "a" }]);
  assert(!env.r.has(1));
});

Deno.test("Retransmitter.send() gives bulk sends a longer deadline and backoff", () => {
  const env = setup();
  sendTracked(env, { id: 1, name: "bulk", now: 0 }, {
    deadline: 5000,
    maxBackoff: 1000,
  });
  env.out.take();
  drive(env, 10_000);
  assertEquals(env.log.sends, [40, 120, 280, 600, 1240, 2240, 3240, 4240]);
  assertEquals(env.log.expired, [{ at: 5000, name: "bulk" }]);
});

Deno.test("Retransmitter.send() waits minTimeout before the first retransmission", () => {
  const env = setup();
  sendTracked(env, { id: 1, name: "tbl", now: 0 }, {
    deadline: 5000,
    minTimeout: 250,
  });
  assertEquals(env.r.nextTimer(), 250);
});

Deno.test("Retransmitter.ack() matches only from the address the datagram went to, once", () => {
  const env = setup();
  sendTracked(env, { id: 7, name: "x", now: 0 });
  assertEquals(env.r.ack(7, { ...TO, port: 5001 }, 10), false);
  assertEquals(env.r.ack(8, TO, 10), false);
  assert(env.r.has(7));
  assertEquals(env.log.acked, []);
  assertEquals(env.r.ack(7, TO, 10), true);
  assertEquals(env.log.acked, [{ name: "x", elapsed: 10 }]);
  assertEquals(env.r.ack(7, TO, 11), false, "an ACK is matched once");
  assertEquals(env.r.poll(1000), 0);
  assertEquals(env.log.expired, []);
});

Deno.test("Retransmitter.rto adapts (RFC 6298) within 20..80 ms, sampling first sends only", () => {
  const r = new Retransmitter(new Outbox());
  const send = (id: number, now: number) =>
    r.send({ id, to: TO, bytes: new Uint8Array([1]) }, now);
  send(1, 0);
  r.ack(1, TO, 10); // srtt 10, rttvar 5: 10 + 20
  assertEquals(r.rto, 30);
  send(2, 100);
  assertEquals(r.nextTimer(), 130, "the next send uses the new timeout");
  r.poll(130); // retransmitted: Karn's rule, no sample
  r.ack(2, TO, 400);
  assertEquals(r.rto, 30);

  const fast = new Retransmitter(new Outbox());
  fast.send({ id: 1, to: TO, bytes: new Uint8Array([1]) }, 0);
  fast.ack(1, TO, 1);
  assertEquals(fast.rto, MIN_RTO_MS);

  const slow = new Retransmitter(new Outbox());
  slow.send({ id: 1, to: TO, bytes: new Uint8Array([1]) }, 0);
  slow.ack(1, TO, 300);
  assertEquals(slow.rto, MAX_RTO_MS);

  // Later samples are smoothed: 7/8 and 3/4.
  const s = new Retransmitter(new Outbox());
  s.send({ id: 1, to: TO, bytes: new Uint8Array([1]) }, 0);
  s.ack(1, TO, 8); // srtt 8, rttvar 4 -> 24
  s.send({ id: 2, to: TO, bytes: new Uint8Array([1]) }, 100);
  s.ack(2, TO, 116); // rttvar 0.75*4+0.25*8=5, srtt 7+2=9 -> 29
  assertEquals(s.rto, 29);
});

Deno.test("Retransmitter.cancel() forgets without running a handler; a resend of a pending id restarts its window", () => {
  const env = setup();
  sendTracked(env, { id: 1, name: "a", now: 0 });
  assertEquals(env.r.cancel(1), true);
  assertEquals(env.r.cancel(1), false);
  assertEquals(env.r.nextTimer(), undefined);
  assertEquals(env.r.poll(10_000), 0);
  assertEquals(env.log.expired, []);

  sendTracked(env, { id: 2, name: "b", now: 0 });
  sendTracked(env, { id: 2, name: "b2", now: 300, bytes: 3 });
  assertEquals(env.r.poll(500), 0, "the old deadline no longer applies");
  assertEquals(env.r.poll(800), 1);
  assertEquals(env.log.expired, [{ at: 800, name: "b2" }]);
  // The restarted send counts as a retransmission: its ACK is not sampled.
  sendTracked(env, { id: 3, name: "c", now: 1000 });
  sendTracked(env, { id: 3, name: "c", now: 1001 });
  env.r.ack(3, TO, 1002);
  assertEquals(env.r.rto, INITIAL_RTO_MS);
});

Deno.test("Retransmitter.poll() runs expiry handlers in deadline order", () => {
  const env = setup();
  sendTracked(env, { id: 1, name: "late", now: 0 }, { deadline: 900 });
  sendTracked(env, { id: 2, name: "early", now: 0 }, { deadline: 300 });
  sendTracked(env, { id: 3, name: "mid", now: 0 }, { deadline: 600 });
  drive(env, 1000);
  assertEquals(env.log.expired, [
    { at: 300, name: "early" },
    { at: 600, name: "mid" },
    { at: 900, name: "late" },
  ]);
});

Deno.test("Retransmitter.poll(): a handler may send again without being polled in the same call", () => {
  const env = setup();
  let tries = 0;
  const again = (now: number): void => {
    if (++tries > 2) return;
    env.r.send({ id: 1, to: TO, bytes: new Uint8Array([1]) }, now, {
      onExpire: again,
    });
  };
  env.r.send({ id: 1, to: TO, bytes: new Uint8Array([1]) }, 0, {
    onExpire: again,
  });
  assertEquals(env.r.poll(500), 1);
  assert(env.r.has(1), "sent again by its handler");
  assertEquals(env.r.poll(1000), 1);
  assertEquals(env.r.poll(1500), 1);
  assertEquals(tries, 3);
  assertEquals(env.r.size, 0);
});
