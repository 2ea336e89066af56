/**
 * Replayed requests: a datagram captured on the path and sent again later.
 * Sealed or not, the server would act on it again once its answer has left
 * the response cache (30 s, `DEDUP_WINDOW_MS`): a `send_all` relayed twice,
 * a `save` stored twice, a `dereg` that marks its user Offline.
 *
 * A client numbers its datagrams with one increasing counter per session,
 * and retries a request for a few seconds only (5 × 500 ms, and once more
 * through a `--failover` node). So an id at or below the highest one the
 * session sent {@linkcode REPLAY_PERIOD_MS} or more earlier can only be a
 * replay; anything newer and seen before is still in the response cache.
 * Each session's guard keeps that floor with two marks (the highest id of
 * the current period and of the one before), rolled as requests come: the
 * floor always covers every id seen two periods ago or more (the idea of
 * the anti-replay window of IPsec, RFC 4303 section 3.4.3, with time in
 * place of a bitmap).
 *
 * Per session: state is kept per user and reset with its token, so one
 * user's traffic never moves another's floor. Kept in a `WeakMap`: a name
 * forgotten takes its guard with it.
 *
 * @module
 */
import type { User } from "./user.ts";

/**
 * The length of one period, in ms. Periods are fixed slices of the clock,
 * so an id is in the floor from the start of the second period after the
 * one it was seen in: at least one period later (longer than a request is
 * ever retried: about 3 s, and 3 s more through a `--failover` node), at
 * most two (28 s: inside the response cache's 30 s, so that cache and
 * floor overlap).
 */
export const REPLAY_PERIOD_MS = 14_000;

interface Marks {
  /** The session these marks are for. */
  token: string;
  /** Ids at or below this are replays. */
  floor: number;
  /** The highest id of the period before the current one (-1: none). */
  previous: number;
  /** The highest id of the current period (-1: none). */
  current: number;
  /** The current period's number (`now / REPLAY_PERIOD_MS`, rounded down). */
  period: number;
}

/**
 * Tells a session's new requests from replays of its old ones.
 *
 * @example Usage
 * ```ts
 * import { REPLAY_PERIOD_MS, ReplayGuard } from "./replay_guard.ts";
 * import type { User } from "./user.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const user = { token: "t0k" } as User;
 * const guard = new ReplayGuard();
 * assertEquals(guard.accept(user, { id: 7, now: 0 }), true);
 * assertEquals(guard.accept(user, { id: 8, now: 1_000 }), true);
 * // Two periods later, both are replays.
 * assertEquals(guard.accept(user, { id: 9, now: 2 * REPLAY_PERIOD_MS }), true);
 * assertEquals(guard.accept(user, { id: 8, now: 2 * REPLAY_PERIOD_MS }), false);
 * ```
 */
export class ReplayGuard {
  #marks = new WeakMap<User, Marks>();

  /**
   * Whether a request of `user`'s session with this id may be acted on;
   * `false`: it is a replay (drop it).
   *
   * @param user The user it authenticated as (its token is the session).
   * @param request Its datagram id, and the current time (ms).
   */
  accept(user: User, request: { id: number; now: number }): boolean {
    const { id, now } = request;
    const period = Math.floor(now / REPLAY_PERIOD_MS);
    let m = this.#marks.get(user);
    if (m === undefined || m.token !== user.token) {
      m = { token: user.token, floor: -1, previous: -1, current: -1, period };
      this.#marks.set(user, m);
    }
    const passed = period - m.period;
    if (passed >= 2) {
      // Two periods or more since the last: everything seen is old now.
      m.floor = Math.max(m.floor, m.previous, m.current);
      m.previous = -1;
      m.current = -1;
    } else if (passed === 1) {
      m.floor = Math.max(m.floor, m.previous);
      m.previous = m.current;
      m.current = -1;
    }
    m.period = Math.max(m.period, period);
    if (id <= m.floor) return false;
    m.current = Math.max(m.current, id);
    return true;
  }
}
