/**
 * udpchat: a lightweight command-line chat over UDP.
 *
 * ```sh
 * deno run --allow-net --unstable-net main.ts -s 5000
 * deno run --allow-net --unstable-net main.ts -c userA localhost 5000 6000
 * ```
 *
 * (`--unstable-net` enables `Deno.listenDatagram`; in a checkout `deno.json`
 * enables it, so `deno run --allow-net main.ts` is enough there.)
 *
 * @module
 */
import { checkExec, HELP_TEXT, parseCommandLine } from "./cli/args.ts";
import { EXIT_OK, EXIT_USAGE } from "./cli/exit_codes.ts";
import { VERSION } from "./cli/version.ts";
import { runClient } from "./runtime/client.ts";
import { runServer } from "./runtime/server.ts";
import { hasUnstableNet, unstableNetMissing } from "./runtime/bind_error.ts";

const encoder = new TextEncoder();

function write(
  stream: { writeSync(p: Uint8Array): number },
  text: string,
): void {
  const bytes = encoder.encode(text);
  let n = 0;
  while (n < bytes.length) n += stream.writeSync(bytes.subarray(n));
}

/**
 * Runs udpchat with command-line arguments.
 *
 * @param args The arguments, without the program name.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args);
  if ("error" in parsed) {
    write(Deno.stderr, `udpchat: ${parsed.error}\n`);
    return EXIT_USAGE;
  }
  // `--exec` commands are checked before anything is sent.
  const bad = parsed.mode === "client"
    ? checkExec(parsed.exec, parsed.name)
    : undefined;
  if (bad !== undefined) {
    write(Deno.stderr, `udpchat: ${bad.error}\n`);
    return EXIT_USAGE;
  }
  switch (parsed.mode) {
    case "help":
      write(
        Deno.stdout,
        HELP_TEXT.endsWith("\n") ? HELP_TEXT : HELP_TEXT + "\n",
      );
      return EXIT_OK;
    case "version":
      write(Deno.stdout, `udpchat ${VERSION}\n`);
      return EXIT_OK;
  }
  // UDP needs Deno's unstable net API: say so, and how, before anything else.
  if (!hasUnstableNet()) return unstableNetMissing();
  switch (parsed.mode) {
    case "server":
      return await runServer({
        port: parsed.port,
        json: parsed.json,
        hostname: parsed.bind,
        store: parsed.store,
      });
    case "client":
      return await runClient({
        name: parsed.name,
        host: parsed.host,
        serverPort: parsed.serverPort,
        clientPort: parsed.clientPort,
        json: parsed.json,
        exec: parsed.exec,
        bell: parsed.bell,
        color: parsed.color,
        keepaliveMs: parsed.keepalive === undefined
          ? undefined
          : parsed.keepalive * 1000,
        failover: parsed.failover,
        claim: parsed.claim === true,
      });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
