/**
 * Parsing of udpchat's command line. Pure: no printing, no Deno APIs.
 *
 * @module
 */
import {
  EXIT_FAILURE,
  EXIT_NAME_IN_USE,
  EXIT_OK,
  EXIT_SAVED,
  EXIT_UNKNOWN_USER,
  EXIT_USAGE,
} from "./exit_codes.ts";

/** What the command line asks for. */
export type Config =
  | { mode: "help" }
  | { mode: "version" }
  | { mode: "server"; port: number; json: boolean }
  | {
    mode: "client";
    name: string;
    host: string;
    serverPort: number;
    clientPort: number;
    json: boolean;
    exec: string[];
    bell: boolean;
    color: boolean;
  };

/** A command line that cannot be run, and why. */
export interface UsageError {
  /** One line saying what is wrong. */
  error: string;
}

/** The usage text `--help` prints. */
export const HELP_TEXT = `udpchat: a lightweight command-line chat over UDP

Usage:
  udpchat -s <server_port> [--json]
  udpchat -c <name> <server_host> <server_port> <client_port> [options]
  udpchat --help | --version

Client options:
  --exec CMD    run CMD after registering, wait for its outcome, then leave
                (repeat for several commands); the exit status says what happened
  --json        print one JSON object per event
  --no-bell     no terminal bell on incoming private messages
  --no-color    no colours (NO_COLOR in the environment does the same)

Chat commands:
  send NAME MESSAGE   e.g. send userB hi there
  send_all MESSAGE    e.g. send_all hello everyone
  dereg NAME          e.g. dereg userA
  reg NAME            e.g. reg userA
  help
  exit                (or Ctrl+C) quit without deregistering

Exit status:
  ${EXIT_OK}  done (with --exec: every message delivered)
  ${EXIT_FAILURE}  the server stopped answering, or a port could not be opened
  ${EXIT_USAGE}  bad arguments
  ${EXIT_SAVED}  --exec: a message was saved for an Offline user
  ${EXIT_UNKNOWN_USER}  --exec: a message was refused (unknown user, too long, server full)
  ${EXIT_NAME_IN_USE}  the name is Online in another session
`;

const USAGE_SERVER = "usage: udpchat -s <server_port>";
const USAGE_CLIENT =
  "usage: udpchat -c <name> <server_host> <server_port> <client_port>";
const NAME = /^[\p{L}\p{N}_.-]{1,32}$/u;

function port(
  value: string,
  what: string,
  allowZero: boolean,
): number | UsageError {
  const min = allowZero ? 0 : 1;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > 65535) {
    return {
      error: `Invalid ${what}: "${value}" is not between ${min} and 65535`,
    };
  }
  return Number(value);
}

function validHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]")
    ? host.slice(1, -1)
    : host;
  if (bare === "") return false;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bare)) {
    return bare.split(".").every((n) => Number(n) <= 255);
  }
  if (bare.includes(":")) return /^[0-9a-fA-F:.]+$/.test(bare);
  return /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
    .test(bare);
}

/**
 * Parses the command line.
 *
 * @param args The arguments, without the program name.
 * @returns What to run, or one line saying what is wrong.
 *
 * @example Usage
 * ```ts
 * import { parseCommandLine } from "./args.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(parseCommandLine(["-s", "5000"]), { mode: "server", port: 5000, json: false });
 * ```
 */
export function parseCommandLine(args: readonly string[]): Config | UsageError {
  const positional: string[] = [];
  const exec: string[] = [];
  let json = false, bell = true, color = true, mode: "s" | "c" | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (a) {
      case "-h":
      case "--help":
        return { mode: "help" };
      case "-V":
      case "--version":
        return { mode: "version" };
      case "-s":
      case "-c":
        if (mode !== undefined) {
          return { error: "Choose one of -s (server) and -c (client)" };
        }
        mode = a === "-s" ? "s" : "c";
        break;
      case "--json":
        json = true;
        break;
      case "--no-bell":
        bell = false;
        break;
      case "--no-color":
        color = false;
        break;
      case "--exec":
        if (i + 1 >= args.length) {
          return { error: "Missing command after --exec" };
        }
        exec.push(args[++i]);
        break;
      default:
        if (a.startsWith("--exec=")) exec.push(a.slice(7));
        else if (a.startsWith("-") && a !== "-") {
          return { error: `Unknown option: ${a}` };
        } else positional.push(a);
    }
  }
  if (mode === undefined) {
    return {
      error: `Missing -s or -c (try --help)\n${USAGE_SERVER}\n${USAGE_CLIENT}`,
    };
  }
  if (mode === "s") {
    if (positional.length === 0) {
      return { error: `Missing server port\n${USAGE_SERVER}` };
    }
    if (positional.length > 1) {
      return {
        error: `Unexpected argument: ${positional[1]}\n${USAGE_SERVER}`,
      };
    }
    if (exec.length > 0) return { error: "--exec is a client option" };
    const p = port(positional[0], "server port", false);
    return typeof p === "number" ? { mode: "server", port: p, json } : p;
  }
  const names = ["name", "server host", "server port", "client port"];
  if (positional.length < 4) {
    return {
      error: `Missing ${
        names.slice(positional.length).join(", ")
      }\n${USAGE_CLIENT}`,
    };
  }
  if (positional.length > 4) {
    return { error: `Unexpected argument: ${positional[4]}\n${USAGE_CLIENT}` };
  }
  const [name, host, sp, cp] = positional;
  if (!NAME.test(name)) {
    return {
      error:
        `Invalid name: "${name}" must be 1 to 32 letters, digits, "_", "." or "-"`,
    };
  }
  if (!validHost(host)) return { error: `Invalid server host: "${host}"` };
  const serverPort = port(sp, "server port", false);
  if (typeof serverPort !== "number") return serverPort;
  const clientPort = port(cp, "client port", true);
  if (typeof clientPort !== "number") return clientPort;
  return {
    mode: "client",
    name,
    host,
    serverPort,
    clientPort,
    json,
    exec,
    bell,
    color,
  };
}
