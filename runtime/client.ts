/**
 * The client's adapter: the only client file that touches sockets, timers,
 * signals and the terminal.
 *
 * @module
 */
import type { ClaimKey } from "../protocol/claim.ts";
import {
  type AgreementKey,
  agreementKeyFromSecret,
} from "../protocol/e2e_crypto.ts";
import { deriveClaimKeys, firstLine, promptPassphrase } from "./claim_key.ts";
import {
  EXIT_COMMAND_FAILED,
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
export type { ClientExit } from "../client/mod.ts";
import { formatLine, jsonEvent, type OutputEvent } from "./output_format.ts";
import { writeAll } from "./write_all.ts";
import { parseCommand } from "../client/commands.ts";

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
  /** Other nodes of the same chat, tried in order when the server stops answering. */
  failover?: { host: string; port: number }[];
  /** Use colours on a terminal (default true; `NO_COLOR` turns them off). */
  color?: boolean;
  /** `--claim`: protect the name with a passphrase (runtime/claim_key.ts). */
  claim?: boolean;
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

/** Most bytes a message body read from standard input (`-`) may have. */
const STDIN_BODY_MAX = 1 << 20;

/**
 * Events that go to stderr in `--exec` mode: errors, and what the client
 * says while it retries or gives up. The outcome stays on stdout.
 */
function isDiagnostic(e: OutputEvent): boolean {
  return e.kind === "error" || DIAGNOSTICS.has(e.event);
}
const DIAGNOSTICS: ReadonlySet<string> = new Set([
  "retrying",
  "registering",
  "exiting",
  "rejoin",
  "server_restarted",
]);

/** Events that say an `--exec` command did not do what it says. */
const COMMAND_FAILED: ReadonlySet<ClientEvent["type"]> = new Set(
  [
    "usage",
    "unknown_command",
    "incorrect_username",
    "offline_hint",
    "request_refused",
    "abandoned",
  ] as const,
);

/**
 * Runs a client until it exits: `exit`, Ctrl+C, the end of piped input, the
 * end of its `--exec` commands, or a server that stops answering.
 *
 * @param options Who, where, and how to print.
 * @returns The exit status.
 */
export async function runClient(options: RunClientOptions): Promise<number> {
  const exec = [...options.exec ?? []];
  const scripted = exec.length > 0;
  const json = options.json ?? false;
  // Standard output may close (`| head -1`): printing stops, nothing throws.
  let stdoutClosed = false;
  const writeOut = (text: string) => {
    if (stdoutClosed) return;
    try {
      writeAll(Deno.stdout, text);
    } catch (e) {
      if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
      stdoutClosed = true;
      onStdoutClosed();
    }
  };
  let onStdoutClosed = () => {};
  const writeErr = (text: string) => {
    try {
      writeAll(Deno.stderr, text);
    } catch {
      // Standard error is gone too: nothing more to say.
    }
  };
  // `--claim`: the passphrase, from a no-echo prompt or the first line of
  // piped input (whose other lines are the commands, as without it).
  let claim: ClaimKey | undefined;
  // The X25519 key: from the passphrase with `--claim` (the same in every
  // session, so messages saved meanwhile open), else fresh for this session.
  let agreement: AgreementKey | undefined;
  let input: ReadableStream<Uint8Array> | undefined;
  if (options.claim) {
    let passphrase: string | undefined;
    if (Deno.stdin.isTerminal()) {
      passphrase = await promptPassphrase(options.name.normalize("NFC"));
    } else {
      const split = await firstLine(Deno.stdin.readable);
      passphrase = split.line;
      input = split.rest;
    }
    if (passphrase === undefined || passphrase === "") {
      writeErr("udpchat: --claim needs a passphrase\n");
      return EXIT_FAILURE;
    }
    const keys = await deriveClaimKeys(passphrase, options.name);
    claim = keys.signing;
    agreement = agreementKeyFromSecret(keys.x25519);
  }
  // `send NAME -` and `send_all -`: the message is standard input.
  const body = scripted ? await stdinBody(exec) : undefined;
  if (body !== undefined && "error" in body) {
    writeErr(`udpchat: ${body.error}\n`);
    return EXIT_COMMAND_FAILED;
  }
  let serverHost: string;
  const failover: Address[] = [];
  try {
    serverHost = await resolveHost(options.host);
    for (const node of options.failover ?? []) {
      failover.push({
        hostname: await resolveHost(node.host),
        port: node.port,
      });
    }
  } catch (e) {
    writeErr(`udpchat: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const server: Address = { hostname: serverHost, port: options.serverPort };
  let conn: Deno.DatagramConn;
  try {
    conn = listenUdp(options.clientPort);
  } catch (e) {
    return bindFailed(e, options.clientPort);
  }
  const terminal = openTerminal({
    json,
    color: options.color,
    bell: options.bell,
    // Tab completes the names in the table.
    names: () => state.table.map(([name]) => name),
    output: writeOut,
    outputIsTerminal: Deno.stdout.isTerminal(),
    // `--exec` reads no commands: no line editor, no raw mode.
    ...(scripted ? { isTerminal: false } : {}),
    // `--claim` with piped input: the lines after the passphrase.
    ...(input !== undefined ? { input } : {}),
  });
  const state = new ClientState({
    name: options.name,
    server,
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    keepaliveMs: options.keepaliveMs,
    failover,
    // An `--exec` run leaves no row behind (issue 12, item 12).
    transient: scripted,
    claim,
    agreement: agreement ??
      agreementKeyFromSecret(crypto.getRandomValues(new Uint8Array(32))),
  });
  const { promise: done, resolve: finish } = Promise.withResolvers<number>();
  let inputEnded = false;
  let nextExec = 0;
  let commandFailed = false;

  // The exit status of a scripted run: the worst thing that happened.
  const scriptStatus = (): number => {
    if (commandFailed) return EXIT_COMMAND_FAILED;
    if (state.outcomes.refused > 0) return EXIT_UNKNOWN_USER;
    if (state.outcomes.saved > 0) return EXIT_SAVED;
    return EXIT_OK;
  };
  const afterStep = () => {
    if (state.exit !== undefined) {
      const code = exitStatus(state.exit);
      return finish(scripted && code === EXIT_OK ? scriptStatus() : code);
    }
    if (state.phase === "registering" || !state.idle) return;
    if (scripted) {
      if (nextExec < exec.length) {
        state.command(exec[nextExec++], driver.now());
        return driver.step();
      }
      if (state.phase === "online") {
        // Leave cleanly: the server removes this transient session's row.
        state.command(`dereg ${options.name}`, driver.now());
        return driver.step();
      }
      return finish(scriptStatus());
    }
    if (inputEnded) finish(EXIT_OK);
  };
  const print = (e: ClientEvent) => {
    if (scripted && COMMAND_FAILED.has(e.type)) commandFailed = true;
    let line = describeClientEvent(e);
    if (json) line = jsonEvent(line, new Date());
    if (scripted && isDiagnostic(line)) {
      writeErr(formatLine(line, { json }) + "\n");
    } else terminal.print(line);
  };
  const driver: UdpDriver<ClientEvent> = new UdpDriver(conn, state, {
    print,
    afterStep,
  });
  // Leaving says what was not sent (Ctrl+C while requests are under way).
  const quit = () => {
    state.command("exit", driver.now());
    driver.step();
  };
  // With no one to read it, an interactive session ends as on `exit`; a
  // scripted one goes on: its commands run and it leaves as usual.
  onStdoutClosed = () => {
    if (!scripted) queueMicrotask(quit);
  };

  Deno.addSignalListener("SIGINT", quit);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", quit);

  state.start(driver.now());
  const running = driver.run().then(() => EXIT_OK, (e) => {
    print({
      type: "network_error",
      message: e instanceof Error ? e.message : String(e),
    });
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
  Deno.removeSignalListener("SIGINT", quit);
  if (Deno.build.os !== "windows") {
    Deno.removeSignalListener("SIGTERM", quit);
  }
  await driver.close();
  terminal.close();
  return code;
}

/**
 * Puts the message read from standard input in place of the `-` body of
 * `send NAME -` or `send_all -` (at most one, as the command line checks):
 * the whole input, less one final line end, as UTF-8.
 *
 * @param exec The `--exec` commands, changed in place.
 * @returns Nothing when no command reads standard input, `{ ok }` when it
 * was read, or what is wrong with it.
 */
async function stdinBody(
  exec: string[],
): Promise<{ ok: true } | { error: string } | undefined> {
  const i = exec.findIndex((line) => {
    const c = parseCommand(line);
    return (c.cmd === "send" || c.cmd === "send_all") && c.text === "-";
  });
  if (i < 0) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Deno.stdin.readable) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > STDIN_BODY_MAX) {
      return {
        error:
          `Message on standard input too long: over ${STDIN_BODY_MAX} bytes (the limit is 16384)`,
      };
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) bytes.set(c, (at += c.length) - c.length);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { error: "Message on standard input is not UTF-8: nothing sent" };
  }
  text = text.replace(/\r?\n$/, "");
  if (text.trim() === "") {
    return { error: "Message on standard input is empty: nothing sent" };
  }
  exec[i] = exec[i].replace(/-$/, () => text);
  return { ok: true };
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
