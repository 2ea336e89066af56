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
import { formatLine } from "./output_format.ts";
import {
  describeServerEvent,
  type ServerConsoleEvent,
} from "../protocol/server_lines.ts";
import type { ServerEvent } from "../server/events.ts";
import {
  DEFAULT_SERVER_LIMITS,
  type ServerLimits,
  ServerState,
} from "../server/state.ts";
import { EXIT_FAILURE } from "../cli/exit_codes.ts";
import type { NatsStore } from "./nats_store.ts";
import { StoreBridge } from "./store_bridge.ts";
import { writeAll } from "./write_all.ts";

/** Options for {@linkcode runServer}. */
export interface RunServerOptions {
  /** UDP port to listen on. */
  port: number;
  /** The one address to bind (default: `::` and `0.0.0.0`, dual-stack). */
  hostname?: string;
  /**
   * Where stored messages live: `memory` (the default) or
   * `nats://HOST:PORT[,nats://HOST:PORT...]` (NATS JetStream).
   */
  store?: string;
  /** Print one JSON object per event instead of text lines. */
  json?: boolean;
  /** Read server commands (`stats`, `exit`) from stdin (default true). */
  stdin?: boolean;
  /** Limit overrides, for tests. */
  limits?: Partial<ServerLimits>;
}

function writeLine(line: string): void {
  writeAll(Deno.stdout, line + "\n");
}

function writeError(line: string): void {
  writeAll(Deno.stderr, line + "\n");
}

/**
 * Prints one server event as the seed does (`>>> text`) or as JSON, in the
 * words of {@linkcode describeServerEvent}.
 *
 * @param serverEvent The core's or the console's event.
 * @param options `json`: print JSON.
 */
export function printServerEvent(
  serverEvent: ServerEvent | ServerConsoleEvent,
  options: { json?: boolean } = {},
): void {
  const event = describeServerEvent(serverEvent);
  // Network text is neutralised exactly as the client's terminal does it.
  writeLine(formatLine(event, { json: options.json }));
}

/**
 * Runs the server until `exit` is typed or SIGINT/SIGTERM arrives.
 *
 * @param options Port and output.
 * @returns The exit status.
 */
export async function runServer(options: RunServerOptions): Promise<number> {
  const json = options.json ?? false;
  const print = (e: ServerEvent | ServerConsoleEvent) =>
    printServerEvent(e, { json });
  let conn: Deno.DatagramConn;
  try {
    conn = listenUdp(options.port, { hostname: options.hostname });
  } catch (e) {
    return bindFailed(e, options.port);
  }
  const durable = options.store !== undefined && options.store !== "memory";
  let store: NatsStore | undefined;
  if (durable) {
    // Loaded only here: the in-memory server loads no NATS client at all.
    const nats = await import("./nats_store.ts");
    try {
      store = await nats.openNatsStore(nats.parseNatsUrls(options.store!), {
        limits: { ...DEFAULT_SERVER_LIMITS, ...options.limits },
      });
    } catch (e) {
      conn.close();
      const why = e instanceof Error ? e.message : String(e);
      writeError(`udpchat: cannot open the store ${options.store}: ${why}`);
      return EXIT_FAILURE;
    }
  }
  const state = new ServerState({
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    limits: options.limits,
    store: store === undefined ? "memory" : "external",
  });
  let restored = 0;
  if (store !== undefined) {
    const messages = await store.loadAll();
    restored = messages.length;
    state.restoreStored(messages, Date.now());
  }
  let bridge: StoreBridge | undefined;
  const driver: UdpDriver<ServerEvent> = new UdpDriver(conn, state, {
    print,
    afterStep: () => bridge?.pump(),
  });
  if (store !== undefined) {
    bridge = new StoreBridge(state, store, {
      now: () => driver.now(),
      step: () => driver.step(),
    });
  }

  const { promise: stopped, resolve: stop } = Promise.withResolvers<number>();
  const onSignal = () => stop(0);
  const showStats = () => print({ type: "stats", stats: state.stats() });
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // SIGUSR2, not SIGUSR1: Deno (since 2.9.2) answers SIGUSR1 by opening a
  // V8 inspector on 127.0.0.1:9229, whatever the program listens to.
  const hasUsr2 = Deno.build.os !== "windows";
  if (hasUsr2) Deno.addSignalListener("SIGUSR2", showStats);
  // Online once the signals are handled: a signal sent on seeing this line
  // finds its listener.
  print({ type: "online", port: driver.localAddr.port });
  let stopStatus: (() => void) | undefined;
  if (store !== undefined) {
    print({ type: "store_opened", store: options.store!, restored });
    let lost = false;
    stopStatus = store.onStatus((status) => {
      if (status === "disconnected" && !lost) {
        lost = true;
        print({ type: "store_unavailable" });
      } else if (status !== "disconnected" && lost) {
        lost = false;
        print({ type: "store_available" });
      }
    });
  }

  const running = driver.run().then(() => 0, (e) => {
    const message = e instanceof Error ? e.message : String(e);
    writeLine(
      `>>> ${describeServerEvent({ type: "server_error", message }).text}`,
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
            print({ type: "unknown_command", command: cmd });
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
  if (hasUsr2) Deno.removeSignalListener("SIGUSR2", showStats);
  stopStatus?.();
  await driver.close();
  await store?.close();
  return code;
}
