/**
 * The server's adapter: the only server file that touches sockets, timers,
 * signals, stdin and stdout.
 *
 * @module
 */
import { bindFailed } from "./bind_error.ts";
import { listenUdp } from "./listen.ts";
import { UdpDriver } from "./udp_driver.ts";
import { readLines } from "./stdin_lines.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { type ServerLimits, ServerState } from "../server/state.ts";

/** Options for {@linkcode runServer}. */
export interface RunServerOptions {
  /** UDP port to listen on. */
  port: number;
  /** The one address to bind (default: `::` and `0.0.0.0`, dual-stack). */
  hostname?: string;
  /** Print one JSON object per event instead of text lines. */
  json?: boolean;
  /** Read server commands (`stats`, `exit`) from stdin (default true). */
  stdin?: boolean;
  /** Limit overrides, for tests. */
  limits?: Partial<ServerLimits>;
}

const encoder = new TextEncoder();

function writeLine(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let n = 0;
  while (n < bytes.length) n += Deno.stdout.writeSync(bytes.subarray(n));
}

/**
 * Prints one server event as the seed does (`>>> text`) or as JSON.
 *
 * @param event The event.
 * @param options `json`: print JSON.
 */
export function printServerEvent(
  event: OutputEvent,
  options: { json?: boolean } = {},
): void {
  writeLine(
    options.json
      ? JSON.stringify({
        event: event.event,
        kind: event.kind,
        text: event.text,
        ...event.data,
      })
      : `>>> ${event.text}`,
  );
}

/**
 * Runs the server until `exit` is typed or SIGINT/SIGTERM arrives.
 *
 * @param options Port and output.
 * @returns The exit status.
 */
export async function runServer(options: RunServerOptions): Promise<number> {
  const json = options.json ?? false;
  const print = (e: OutputEvent) => printServerEvent(e, { json });
  let conn: Deno.DatagramConn;
  try {
    conn = listenUdp(options.port, { hostname: options.hostname });
  } catch (e) {
    return bindFailed(e, options.port);
  }
  const state = new ServerState({
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    limits: options.limits,
  });
  const driver = new UdpDriver(conn, state, { print });
  print({
    kind: "status",
    event: "online",
    text: "[Server is online...]",
    data: { port: driver.localAddr.port },
  });

  const { promise: stopped, resolve: stop } = Promise.withResolvers<number>();
  const onSignal = () => stop(0);
  const showStats = () =>
    print({
      kind: "status",
      event: "stats",
      text: state.statsLine(),
      data: {
        ...state.stats(),
        dropped: JSON.stringify(state.stats().dropped),
      },
    });
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const hasUsr1 = Deno.build.os !== "windows";
  if (hasUsr1) Deno.addSignalListener("SIGUSR1", showStats);

  const running = driver.run().then(() => 0, (e) => {
    writeLine(
      `>>> [Server error: ${e instanceof Error ? e.message : String(e)}]`,
    );
    return 1;
  });
  if (options.stdin ?? true) {
    (async () => {
      try {
        for await (const line of readLines(Deno.stdin.readable)) {
          const cmd = line.trim();
          if (cmd === "stats") showStats();
          else if (cmd === "exit" || cmd === "quit") return stop(0);
          else if (cmd !== "") {
            print({
              kind: "error",
              event: "usage",
              text: `[Unknown command: ${cmd}. Server commands: stats, exit]`,
            });
          }
        }
      } catch {
        // stdin closed or unavailable: the server goes on without it.
      }
    })();
  }
  const code = await Promise.race([stopped, running]);
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  if (hasUsr1) Deno.removeSignalListener("SIGUSR1", showStats);
  await driver.close();
  return code;
}
