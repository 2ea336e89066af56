/**
 * The server's adapter: the only server file that touches sockets, timers,
 * signals, stdin and stdout.
 *
 * @module
 */
import { bindFailed } from "./bind_error.ts";
import { listenUdp } from "./listen.ts";
import { type SendShed, UdpDriver } from "./udp_driver.ts";
import { readLines } from "./stdin_lines.ts";
import { formatLine, jsonEvent } from "./output_format.ts";
import {
  describeServerEvent,
  type ServerConsoleEvent,
} from "../protocol/server_lines.ts";
import type { ServerEvent } from "../server/events.ts";
import { type ServerLimits, ServerState } from "../server/state.ts";
import { EXIT_FAILURE } from "../cli/exit_codes.ts";
import type { DurableServer } from "./durable_server.ts";
import type { Machine } from "../protocol/machine.ts";
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
  writeLine(
    formatLine(options.json ? jsonEvent(event, new Date()) : event, {
      json: options.json,
    }),
  );
}

/**
 * A `stats` event with the datagrams the send queue dropped added to its
 * `dropped` counts (`send_queue_answers`, `send_queue_bulk`,
 * `send_queue_challenges`), when any were, and the datagrams queued now
 * added to its `held` gauges (`sendQueue`), when it has them.
 *
 * @param event The core's `stats` event.
 * @param shed The driver's counts, if it runs.
 * @param options `queued`: the datagrams in the driver's send queue now.
 */
export function withSendShed(
  event: Extract<ServerConsoleEvent, { type: "stats" }>,
  shed: SendShed | undefined,
  options: { queued?: number } = {},
): ServerConsoleEvent {
  const dropped = { ...event.stats.dropped };
  if (shed?.answers) dropped.send_queue_answers = shed.answers;
  if (shed?.bulk) dropped.send_queue_bulk = shed.bulk;
  if (shed?.challenges) dropped.send_queue_challenges = shed.challenges;
  const { held } = event.stats;
  const queued = options.queued;
  return {
    ...event,
    stats: {
      ...event.stats,
      dropped,
      ...(held === undefined || queued === undefined
        ? {}
        : { held: { ...held, sendQueue: queued } }),
    },
  };
}

/**
 * Runs the server until `exit` is typed or SIGINT/SIGTERM arrives.
 *
 * @param options Port and output.
 * @returns The exit status.
 */
export async function runServer(options: RunServerOptions): Promise<number> {
  const json = options.json ?? false;
  // What the send queue shed (issue 13) is told in `stats` with the rest.
  let shed: SendShed | undefined = undefined;
  let queued: (() => number) | undefined = undefined;
  const print = (e: ServerEvent | ServerConsoleEvent) =>
    printServerEvent(
      e.type === "stats" ? withSendShed(e, shed, { queued: queued?.() }) : e,
      { json },
    );
  let conn: Deno.DatagramConn;
  try {
    conn = listenUdp(options.port, { hostname: options.hostname });
  } catch (e) {
    return bindFailed(e, options.port);
  }
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  let durable: DurableServer | undefined;
  let state: ServerState | undefined;
  if (options.store !== undefined && options.store !== "memory") {
    // Loaded only here: the in-memory server loads no NATS client at all.
    const { DurableServer } = await import("./durable_server.ts");
    try {
      durable = await DurableServer.open({
        store: options.store,
        nodeId: `n${options.port}-${
          [...random(3)].map((b) => b.toString(16).padStart(2, "0")).join("")
        }`,
        limits: options.limits,
        random,
        print,
      });
    } catch (e) {
      conn.close();
      const why = e instanceof Error ? e.message : String(e);
      writeError(`udpchat: Cannot open the store ${options.store}: ${why}`);
      return EXIT_FAILURE;
    }
  } else {
    state = new ServerState({ random, limits: options.limits });
  }
  const machine: Machine<ServerEvent> = durable?.node ?? state!;
  const driver: UdpDriver<ServerEvent> = new UdpDriver(conn, machine, {
    print,
    afterStep: () => durable?.pump(),
  });
  shed = driver.shed;
  queued = () => driver.queued;
  await durable?.start(driver);

  const { promise: stopped, resolve: stop } = Promise.withResolvers<number>();
  const onSignal = () => stop(0);
  const showStats = () =>
    durable !== undefined
      ? durable.showStats()
      : print({ type: "stats", stats: state!.stats() });
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // SIGUSR2, not SIGUSR1: Deno (since 2.9.2) answers SIGUSR1 by opening a
  // V8 inspector on 127.0.0.1:9229, whatever the program listens to.
  const hasUsr2 = Deno.build.os !== "windows";
  if (hasUsr2) Deno.addSignalListener("SIGUSR2", showStats);
  // Online once the signals are handled: a signal sent on seeing this line
  // finds its listener.
  print({ type: "online", port: driver.localAddr.port });
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
  await driver.close();
  await durable?.close();
  return code;
}
