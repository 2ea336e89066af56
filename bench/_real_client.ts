// In-process clients with the real state machine (client/state.ts driven by
// runtime/udp_driver.ts, as `udpchat -c` runs them), whose events can be
// awaited as the lines they describe (protocol/lines.ts).
import type { ClientEvent } from "../client/mod.ts";
import { ClientState } from "../client/state.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import { UdpDriver } from "../runtime/udp_driver.ts";

/** A real client on its own socket of 127.0.0.1. */
export interface Real {
  state: ClientState;
  driver: UdpDriver<ClientEvent>;
  /** Resolves when the socket is closed. */
  done: Promise<void>;
  /** Resolves with the next event that passes `test` (register it first). */
  next: (test: (e: OutputEvent) => boolean) => Promise<OutputEvent>;
}

/** Starts a real client for server port `sp`; resolves once it has its table. */
export async function realClient(name: string, sp: number): Promise<Real> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const state = new ClientState({
    name,
    server: { hostname: "127.0.0.1", port: sp },
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
  });
  const waiters: {
    test: (e: OutputEvent) => boolean;
    resolve: (e: OutputEvent) => void;
  }[] = [];
  const driver = new UdpDriver(conn, state, {
    print: (event) => {
      const e = describeClientEvent(event);
      const i = waiters.findIndex((w) => w.test(e));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(e);
    },
  });
  const done = driver.run();
  const next = (test: (e: OutputEvent) => boolean) =>
    new Promise<OutputEvent>((resolve) => waiters.push({ test, resolve }));
  const ready = next((e) => e.event === "table");
  state.start(Date.now());
  driver.step();
  await ready;
  return { state, driver, done, next };
}

/** Resolves once `cond()` holds (checked after each event). */
export function until(c: Real, cond: () => boolean): Promise<void> {
  return cond() ? Promise.resolve() : c.next(() => cond()).then(() => {});
}
