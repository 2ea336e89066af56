/**
 * The one line printed when a UDP port cannot be opened.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * One clear line for a socket that could not be opened.
 *
 * @param error What `Deno.listenDatagram` threw.
 * @param port The port asked for.
 * @returns The exit status (1).
 */
export function bindFailed(error: unknown, port: number): number {
  let why: string;
  if (error instanceof Deno.errors.AddrInUse) {
    why = `port ${port} is already in use`;
  } else if (error instanceof Deno.errors.PermissionDenied) {
    why = `permission denied for port ${port}`;
  } else if (error instanceof Deno.errors.AddrNotAvailable) {
    why = "the address is not available on this machine";
  } else why = error instanceof Error ? error.message : String(error);
  const bytes = encoder.encode(`Cannot open UDP port ${port}: ${why}\n`);
  Deno.stderr.writeSync(bytes);
  return 1;
}
