/**
 * The one line printed when a UDP port cannot be opened, or cannot be
 * opened at all because Deno's unstable net API is not enabled.
 *
 * @module
 */
import { writeAll } from "./write_all.ts";
import { EXIT_FAILURE, EXIT_USAGE } from "../cli/exit_codes.ts";

/**
 * The line for a Deno run without the unstable net API: `Deno.listenDatagram`
 * (UDP) exists only with `--unstable-net` or `"unstable": ["net"]` in the
 * config, which a run with `--no-config`, `deno install` or a run from a
 * registry does not read.
 */
export const UNSTABLE_NET_MISSING =
  "udpchat: UDP needs Deno's unstable net API, which is not enabled: run with --unstable-net, e.g. deno run --allow-net --unstable-net main.ts -s 5000";

/**
 * Whether `Deno.listenDatagram` is there (the unstable net API is enabled).
 *
 * @returns True when UDP sockets can be opened.
 */
export function hasUnstableNet(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram ===
    "function";
}

/**
 * Prints {@linkcode UNSTABLE_NET_MISSING} on stderr.
 *
 * @returns The exit status for an environment that cannot run udpchat (2).
 */
export function unstableNetMissing(): number {
  writeAll(Deno.stderr, `${UNSTABLE_NET_MISSING}\n`);
  return EXIT_USAGE;
}

/**
 * One clear line, `udpchat: Cannot open UDP port P: why`, for a socket that
 * could not be opened.
 *
 * @param error What `Deno.listenDatagram` threw.
 * @param port The port asked for.
 * @returns The exit status: 1, or 2 when the unstable net API is missing.
 */
export function bindFailed(error: unknown, port: number): number {
  if (!hasUnstableNet()) return unstableNetMissing();
  let why: string;
  if (error instanceof Deno.errors.AddrInUse) {
    why = `port ${port} is already in use`;
  } else if (error instanceof Deno.errors.PermissionDenied) {
    why = `permission denied for port ${port}`;
  } else if (error instanceof Deno.errors.AddrNotAvailable) {
    why = "the address is not available on this machine";
  } else why = error instanceof Error ? error.message : String(error);
  writeAll(Deno.stderr, `udpchat: Cannot open UDP port ${port}: ${why}\n`);
  return EXIT_FAILURE;
}
