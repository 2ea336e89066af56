// A closed-loop load generator: `inflight` requests outstanding over a pool
// of sockets, each answer starting the next request on the socket idle the
// longest (so each source stays far below the server's per-source rate).
// Requests lost are sent again after 200 ms. The same generator drives the
// echo baseline and the udpchat server.
import { sleep } from "./_stats.ts";

/** One socket of the pool: sends a request, hands each answer back. */
export interface LoadSocket {
  /** Sends request number `seq`. */
  send(seq: number): Promise<void>;
  /** Set by the generator: call with each answer (true) or other datagram (false). */
  onAnswer?: (isAnswer: boolean) => void;
}

/** What a load run measured. */
export interface LoadResult {
  /** Answered requests per second. */
  rate: number;
  /** Requests sent again after 200 ms without an answer. */
  resent: number;
}

/**
 * Runs the loop for `seconds` after a warm-up of 0.3 s.
 *
 * @param sockets The pool (more sockets than requests in flight).
 * @param inflight Requests outstanding at once.
 * @param seconds How long to count.
 */
export async function closedLoop(
  sockets: LoadSocket[],
  inflight: number,
  seconds: number,
): Promise<LoadResult> {
  let seq = 0;
  let answered = 0;
  let resent = 0;
  let stopped = false;
  const idle: number[] = [];
  const sentAt = new Array<number>(sockets.length).fill(-1);
  const start = (i: number) => {
    sentAt[i] = performance.now();
    sockets[i].send(seq++);
  };
  sockets.forEach((s, i) => {
    s.onAnswer = (ok) => {
      if (!ok || sentAt[i] < 0) return;
      sentAt[i] = -1;
      answered++;
      if (stopped) return;
      idle.push(i);
      start(idle.shift()!);
    };
  });
  for (let i = 0; i < sockets.length; i++) {
    if (i < inflight) start(i);
    else idle.push(i);
  }
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (let i = 0; i < sockets.length; i++) {
      if (sentAt[i] >= 0 && now - sentAt[i] > 200) {
        resent++;
        start(i);
      }
    }
  }, 50);
  await sleep(300);
  const a0 = answered;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const rate = (answered - a0) / ((performance.now() - t0) / 1000);
  stopped = true;
  clearInterval(watchdog);
  // Let the last answers come in before the sockets are reused or closed.
  await sleep(250);
  for (const s of sockets) s.onAnswer = undefined;
  return { rate, resent };
}
