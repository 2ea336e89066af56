/**
 * The client's adapter: the only client file that touches sockets, timers,
 * signals and the terminal.
 *
 * @module
 */
import {
  EXIT_FAILURE,
  EXIT_NAME_IN_USE,
  EXIT_OK,
  EXIT_SAVED,
  EXIT_UNKNOWN_USER,
} from "../cli/exit_codes.ts";
import { UdpDriver } from "./udp_driver.ts";
import { bindFailed } from "./bind_error.ts";
import { listenUdp } from "./listen.ts";
import type { Address } from "../protocol/address.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import {
  type ClientEvent,
  type ClientExit,
  ClientState,
} from "../client/mod.ts";
import { openTerminal } from "./terminal.ts";

/** Options for {@linkcode runClient}. */
export interface RunClientOptions {
  /** This user's name. */
  name: string;
  /** The server's host: `localhost`, an IP literal or a host name. */
  host: string;
  /** The server's UDP port. */
  serverPort: number;
  /** This client's UDP port; 0 picks a free one. */
  clientPort: number;
  /** Print one JSON object per event. */
  json?: boolean;
  /** Commands to run in order, then leave and exit (scripting mode). */
  exec?: string[];
  /** Ring the bell on incoming private messages (default true). */
  bell?: boolean;
  /** The keepalive interval's middle, in ms (default 20,000: 15 to 25 s). */
  keepaliveMs?: number;
  /** Use colours on a terminal (default true; `NO_COLOR` turns them off). */
  color?: boolean;
}

/**
 * Resolves the server's host to an IP literal.
 *
 * @param host `localhost`, an IP literal (IPv6 optionally in brackets) or a name.
 * @returns The address to send to.
 */
export async function resolveHost(host: string): Promise<string> {
  const bare = host.startsWith("[") && host.endsWith("]")
    ? host.slice(1, -1)
    : host;
  if (bare === "localhost") return "127.0.0.1";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bare) || bare.includes(":")) return bare;
  for (const type of ["A", "AAAA"] as const) {
    try {
      const found = await Deno.resolveDns(bare, type);
      if (found.length > 0) return found[0];
    } catch {
      // Try the next record type.
    }
  }
  throw new Error(`Cannot resolve server address: ${host}`);
}

/**
 * Runs a client until it exits: `exit`, Ctrl+C, the end of piped input, the
 * end of its `--exec` commands, or a server that stops answering.
 *
 * @param options Who, where, and how to print.
 * @returns The exit status.
 */
export async function runClient(options: RunClientOptions): Promise<number> {
  let serverHost: string;
  try {
    serverHost = await resolveHost(options.host);
  } catch (e) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`udpchat: ${(e as Error).message}\n`),
    );
    return EXIT_FAILURE;
  }
  const server: Address = { hostname: serverHost, port: options.serverPort };
  let conn: Deno.DatagramConn;
  try {
    conn = listenUdp(options.clientPort);
  } catch (e) {
    return bindFailed(e, options.clientPort);
  }
  const exec = options.exec ?? [];
  const scripted = exec.length > 0;
  const terminal = openTerminal({
    json: options.json ?? false,
    color: options.color,
    bell: options.bell,
    // Tab completes the names in the table.
    names: () => state.table.map(([name]) => name),
  });
  const state = new ClientState({
    name: options.name,
    server,
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    keepaliveMs: options.keepaliveMs,
  });
  const { promise: done, resolve: finish } = Promise.withResolvers<number>();
  let inputEnded = false;
  let nextExec = 0;

  const afterStep = () => {
    if (state.exit !== undefined) return finish(exitStatus(state.exit));
    if (state.phase === "registering" || !state.idle) return;
    if (scripted) {
      if (nextExec < exec.length) {
        state.command(exec[nextExec++], driver.now());
        return driver.step();
      }
      if (state.phase === "online") {
        // Leave cleanly: others see us Offline and their messages are saved.
        state.command(`dereg ${options.name}`, driver.now());
        return driver.step();
      }
      return finish(scriptStatus(state));
    }
    if (inputEnded) finish(EXIT_OK);
  };
  const driver: UdpDriver<ClientEvent> = new UdpDriver(conn, state, {
    print: (e) => terminal.print(describeClientEvent(e)),
    afterStep,
  });

  const onSignal = () => finish(EXIT_OK);
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);

  state.start(driver.now());
  const running = driver.run().then(() => EXIT_OK, (e) => {
    terminal.print(describeClientEvent({
      type: "network_error",
      message: e instanceof Error ? e.message : String(e),
    }));
    return EXIT_FAILURE;
  });
  driver.step();
  if (!scripted) {
    (async () => {
      for await (const line of terminal.lines()) {
        state.command(line, driver.now());
        driver.step();
        if (state.exit !== undefined) return;
      }
      inputEnded = true;
      driver.step();
    })().catch(() => {
      inputEnded = true;
      driver.step();
    });
  }
  const code = await Promise.race([done, running]);
  Deno.removeSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") {
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  await driver.close();
  terminal.close();
  return code;
}

/**
 * The exit status for the client core's decision to exit.
 *
 * @param exit Why the client exits.
 * @returns 0 for `done`, 5 when the name is in use, 1 otherwise.
 *
 * @example Usage
 * ```ts
 * import { exitStatus } from "./client.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(exitStatus({ type: "exit", reason: "name_in_use" }), 5);
 * ```
 */
export function exitStatus(exit: ClientExit): number {
  switch (exit.reason) {
    case "done":
      return EXIT_OK;
    case "name_in_use":
      return EXIT_NAME_IN_USE;
    case "server_not_responding":
    case "registration_refused":
      return EXIT_FAILURE;
  }
}

// The exit status of a scripted run: the worst thing that happened.
function scriptStatus(state: ClientState): number {
  if (state.outcomes.refused > 0) return EXIT_UNKNOWN_USER;
  if (state.outcomes.saved > 0) return EXIT_SAVED;
  return EXIT_OK;
}
