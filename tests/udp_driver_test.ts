/**
 * The UDP driver's timer arithmetic (runtime/udp_driver.ts): setTimeout takes
 * at most 2^31 - 1 ms and fires a longer delay at once, again and again (an
 * Offline name's 30-day expiry once flooded stderr with
 * TimeoutOverflowWarning and spun a core).
 */
import { assertEquals } from "./_assert.ts";
import { MAX_TIMER_DELAY_MS, timerDelay } from "../runtime/udp_driver.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/options.ts";

const SET_TIMEOUT_MAX_MS = 2 ** 31 - 1;

Deno.test("timerDelay() never exceeds what setTimeout takes, even for a 30-day name expiry", () => {
  const now = 1_000_000;
  const far = now + DEFAULT_SERVER_LIMITS.offlineNameTtlMs;
  assertEquals(timerDelay(far, now) <= SET_TIMEOUT_MAX_MS, true);
  assertEquals(timerDelay(far, now), MAX_TIMER_DELAY_MS);
});

Deno.test("timerDelay() is the time left for a near deadline, and 0 for a past one", () => {
  assertEquals(timerDelay(1_250, 1_000), 250);
  assertEquals(timerDelay(900, 1_000), 0);
});
