/**
 * Parsing of udpchat's command line. Pure: no printing, no Deno APIs.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseCommand } from "../client/commands.ts";
import {
  EXIT_COMMAND_FAILED,
  EXIT_FAILURE,
  EXIT_NAME_IN_USE,
  EXIT_OK,
  EXIT_SAVED,
  EXIT_UNKNOWN_USER,
  EXIT_USAGE,
} from "./exit_codes.ts";
import { parseNatsUrls } from "../runtime/nats_urls.ts";

/** What the command line asks for. */
export type Config =
  | { mode: "help" }
  | { mode: "version" }
  | {
    mode: "server";
    port: number;
    json: boolean;
    /** `--store`: `memory` (the default) or `nats://HOST:PORT[,nats://...]`. */
    store?: string;
    /** `--bind`: the one address to listen on (default: every address). */
    bind?: string;
  }
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
    /** `--keepalive`: the keepalive interval's middle, in seconds. */
    keepalive?: number;
    /** `--failover HOST:PORT` (repeatable): other nodes of the same chat. */
    failover?: { host: string; port: number }[];
    /** `--claim`: protect the name with a passphrase (issue 14). */
    claim?: true;
  };

/** A command line that cannot be run, and why. */
export interface UsageError {
  /**
   * What is wrong: one line, with the usage in brackets when arguments are
   * missing or extra.
   */
  error: string;
}

/** The usage text `--help` prints. */
export const HELP_TEXT = `udpchat: a lightweight command-line chat over UDP

Usage:
  udpchat -s <server_port> [--json] [--store URL] [--bind ADDRESS]
  udpchat -c <name> <server_host> <server_port> <client_port> [options]
  udpchat -h | --help
  udpchat -V | --version

Arguments:
  name          1 to 32 letters, digits, "_", "." or "-"
  server_host   localhost, an IPv4 or IPv6 address (::1 or [::1]) or a host name
  server_port   1 to 65535 (-s5000 is -s 5000)
  client_port   1 to 65535, or 0 to pick a free port

Options:
  -h, --help    show this help and exit
  -V, --version print the version and exit
  --json        print one JSON object per event (server and client)
  --            end of options (for a name that starts with "-")

Server options:
  --store URL   where stored messages live: memory (the default; lost when
                the server stops) or nats://HOST:PORT (NATS JetStream,
                several comma-separated for a cluster: kept across restarts)
  --bind ADDR   listen on this address only (default: IPv6 and IPv4)

Client options:
  --keepalive S keepalive interval in seconds (default 20: every 15 to 25 s)
  --failover HOST:PORT
                another node of the same chat, used when the server stops
                answering (repeatable, tried in order; [::1]:5001 for IPv6)
  --exec CMD    run CMD after registering, wait for its outcome, then leave
                (repeatable, run in order; --exec=CMD works too); the exit
                status says what happened; "send NAME -" and "send_all -"
                read the message from standard input; the session is
                transient: its row leaves the table when it leaves
  --claim       protect the name with a passphrase, asked without echo (or
                read from the first line of standard input when it is not
                a terminal): once claimed, only that passphrase registers
                the name. Without --claim a name is not protected: anyone
                may register it while it is Offline
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
  ${EXIT_USAGE}  bad arguments (also an --exec command that is unknown, lacks its text,
     names another user or follows "exit"), or Deno without --unstable-net
  ${EXIT_SAVED}  --exec: a private message was saved for an Offline user (a send_all
     saved for Offline members exits 0: that is its normal outcome)
  ${EXIT_UNKNOWN_USER}  --exec: a message was refused (unknown user, too long, server full,
     or your hourly limit of saved messages reached)
  ${EXIT_NAME_IN_USE}  the name is Online in another session
  ${EXIT_COMMAND_FAILED}  --exec: a command did not do what it says at run time (while
     Offline, a message not sent at Ctrl+C, an empty standard input for "-")
`;

const USAGE_SERVER =
  "usage: udpchat -s <server_port> [--json] [--store URL] [--bind ADDRESS]";
const USAGE_CLIENT =
  "usage: udpchat -c <name> <server_host> <server_port> <client_port> [options]";
const NAME = /^[\p{L}\p{N}_.-]{1,32}$/u;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function port(
  value: string,
  what: string,
  allowZero: boolean,
): number | UsageError {
  const min = allowZero ? 0 : 1;
  if (!/^\d+$/.test(value)) {
    return {
      error:
        `Invalid ${what}: "${value}" is not a whole number between ${min} and 65535`,
    };
  }
  const n = Number(value);
  if (n < min || n > 65535) {
    return {
      error: `Invalid ${what}: "${value}" is not between ${min} and 65535`,
    };
  }
  return n;
}

function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(s: string): boolean {
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groups = (half: string): string[] | undefined => {
    if (half === "") return [];
    const g = half.split(":");
    return g.every((x) => /^[0-9A-Fa-f]{1,4}$/.test(x)) ? g : undefined;
  };
  // An embedded IPv4 address (e.g. ::ffff:127.0.0.1) counts as two groups.
  let tail = halves.at(-1)!;
  let extra = 0;
  const lastColon = tail.lastIndexOf(":");
  const last = tail.slice(lastColon + 1);
  if (last.includes(".")) {
    if (!isIPv4(last)) return false;
    extra = 2;
    tail = lastColon < 0 ? "" : tail.slice(0, lastColon);
  }
  const head = halves.length === 2 ? groups(halves[0]) : [];
  const rest = groups(tail);
  if (head === undefined || rest === undefined) return false;
  const count = head.length + rest.length + extra;
  return halves.length === 2 ? count <= 7 : count === 8;
}

function isHostName(s: string): boolean {
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  // A name whose last label is all digits would be read as an IPv4 address.
  if (/^\d+$/.test(labels.at(-1)!)) return false;
  return labels.every((l) => LABEL.test(l));
}

function hostError(host: string): UsageError | undefined {
  if (host === "") return { error: "Invalid server host: it is empty" };
  if (host.startsWith("[") || host.endsWith("]")) {
    const ok = host.startsWith("[") && host.endsWith("]") &&
      isIPv6(host.slice(1, -1));
    return ok ? undefined : {
      error:
        `Invalid server host: "${host}" is not an IPv6 address in brackets`,
    };
  }
  if (/^[^:]+:\d+$/.test(host)) {
    return {
      error:
        `Invalid server host: "${host}" includes a port; give the port as the next argument`,
    };
  }
  if (host.includes(":")) {
    return isIPv6(host) ? undefined : {
      error: `Invalid server host: "${host}" is not an IPv6 address`,
    };
  }
  if (/^[\d.]+$/.test(host)) {
    return isIPv4(host) ? undefined : {
      error: `Invalid server host: "${host}" is not an IPv4 address`,
    };
  }
  return isHostName(host) ? undefined : {
    error: `Invalid server host: "${host}" is not a host name`,
  };
}

// The options, for node:util's parseArgs. -s and -c are flags: the ports
// and the rest are positional, so `-s5000` is read as `-s 5000`.
const OPTIONS = {
  s: { type: "boolean" },
  c: { type: "boolean" },
  json: { type: "boolean" },
  claim: { type: "boolean" },
  "no-bell": { type: "boolean" },
  "no-color": { type: "boolean" },
  exec: { type: "string" },
  store: { type: "string" },
  bind: { type: "string" },
  keepalive: { type: "string" },
  failover: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** How each option may be written; anything else is an unknown option. */
const SPELLINGS: ReadonlySet<string> = new Set([
  "-s",
  "-c",
  "--json",
  "--claim",
  "--no-bell",
  "--no-color",
  "--exec",
  "--store",
  "--bind",
  "--keepalive",
  "--failover",
  "-h",
  "--help",
  "-V",
  "--version",
]);

/** The options a server refuses. */
const CLIENT_ONLY: ReadonlySet<string> = new Set([
  "claim",
  "exec",
  "keepalive",
  "failover",
  "no-bell",
  "no-color",
]);

/** The options a client refuses. */
const SERVER_ONLY: ReadonlySet<string> = new Set(["store", "bind"]);

/** Options that take a value, which `--name=value` may give. */
const WITH_VALUE: ReadonlySet<string> = new Set([
  "exec",
  "store",
  "bind",
  "keepalive",
  "failover",
]);

type Token = NonNullable<ReturnType<typeof parseArgs>["tokens"]>[number];

/** `--help` or `--version` among the options (not an `--exec` command or after `--`). */
function helpOrVersion(
  tokens: readonly Token[],
  args: readonly string[],
): { mode: "help" } | { mode: "version" } | undefined {
  let version = false;
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const arg = args[t.index];
    if (arg === "-h" || arg === "--help") return { mode: "help" };
    if (arg === "-V" || arg === "--version") version = true;
  }
  return version ? { mode: "version" } : undefined;
}

/**
 * Parses the command line.
 *
 * Options may come before, between or after the positional arguments; `--`
 * ends the options (for a name that starts with `-`); `--exec=CMD` and
 * `-s5000` work. `--help` and `--version` win over everything else. The
 * tokens come from `node:util`'s `parseArgs`; the checks and their wording
 * are udpchat's.
 *
 * @param args The arguments, without the program name.
 * @returns What to run, or one line saying what is wrong (sentence case, no
 * final full stop, details after a colon), with the usage in brackets when
 * arguments are missing or extra.
 *
 * @example Usage
 * ```ts
 * import { parseCommandLine } from "./args.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(parseCommandLine(["-s", "5000"]), { mode: "server", port: 5000, json: false });
 * assertEquals(parseCommandLine(["-s5000"]), { mode: "server", port: 5000, json: false });
 * ```
 */
export function parseCommandLine(args: readonly string[]): Config | UsageError {
  const { tokens } = parseArgs({
    args: [...args],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const asked = helpOrVersion(tokens, args);
  if (asked !== undefined) return asked;
  const positional: string[] = [];
  const exec: string[] = [];
  const clientOnly: string[] = [];
  const serverOnly: string[] = [];
  let store: string | undefined, bind: string | undefined;
  let keepalive: string | undefined;
  const failover: string[] = [];
  let json = false, bell = true, color = true, mode: "s" | "c" | undefined;
  let claim = false;
  const done = new Set<number>(); // arguments already read
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional") {
      positional.push(t.value);
      continue;
    }
    const arg = args[t.index];
    if (done.has(t.index)) continue; // the rest of -s5000
    done.add(t.index);
    if (/^-\d+$/.test(arg)) {
      // A negative number is a bad port, not an unknown option.
      positional.push(arg);
      continue;
    }
    const attached = !arg.startsWith("--") && arg.length > 2;
    if (attached && t.name !== "s" && t.name !== "c") {
      return { error: `Unknown option: ${arg} (try --help)` };
    }
    if (
      !SPELLINGS.has(t.rawName) || (t.inlineValue && !WITH_VALUE.has(t.name))
    ) {
      return { error: `Unknown option: ${arg} (try --help)` };
    }
    if (CLIENT_ONLY.has(t.name)) clientOnly.push(`--${t.name}`);
    if (SERVER_ONLY.has(t.name)) serverOnly.push(`--${t.name}`);
    switch (t.name) {
      case "s":
      case "c":
        if (mode !== undefined) {
          return { error: "Choose one of -s (server) and -c (client)" };
        }
        mode = t.name;
        if (attached) positional.push(arg.slice(2));
        break;
      case "json":
        json = true;
        break;
      case "claim":
        claim = true;
        break;
      case "no-bell":
        bell = false;
        break;
      case "no-color":
        color = false;
        break;
      case "exec":
        if (t.value === undefined) {
          return { error: "Missing command after --exec" };
        }
        exec.push(t.value);
        break;
      case "failover":
        if (t.value === undefined || t.value === "") {
          return { error: "Missing HOST:PORT after --failover" };
        }
        failover.push(t.value);
        break;
      case "store":
      case "bind":
      case "keepalive":
        if (t.value === undefined || t.value === "") {
          return { error: `Missing value after --${t.name}` };
        }
        if (t.name === "store") store = t.value;
        else if (t.name === "bind") bind = t.value;
        else keepalive = t.value;
        break;
    }
  }
  if (mode === undefined) {
    return {
      error: "Missing -s or -c (try --help)",
    };
  }
  if (mode === "s") {
    if (positional.length === 0) {
      return { error: `Missing server port (${USAGE_SERVER})` };
    }
    if (positional.length > 1) {
      return {
        error: `Unexpected argument: ${positional[1]} (${USAGE_SERVER})`,
      };
    }
    if (clientOnly.length > 0) {
      return { error: `Not a server option: ${clientOnly[0]}` };
    }
    const p = port(positional[0], "server port", false);
    if (typeof p !== "number") return p;
    if (
      store !== undefined && store !== "memory" && !store.startsWith("nats://")
    ) {
      return {
        error:
          `Invalid store: "${store}" (memory, or nats://HOST:PORT[,nats://HOST:PORT...])`,
      };
    }
    if (store?.startsWith("nats://")) {
      try {
        parseNatsUrls(store);
      } catch (e) {
        return { error: `Invalid store: ${(e as Error).message}` };
      }
    }
    const server: Config = { mode: "server", port: p, json };
    if (store !== undefined) server.store = store;
    if (bind !== undefined) server.bind = bind;
    return server;
  }
  const names = ["name", "server host", "server port", "client port"];
  if (positional.length < 4) {
    return {
      error: `Missing ${
        names.slice(positional.length).join(", ")
      } (${USAGE_CLIENT})`,
    };
  }
  if (positional.length > 4) {
    return {
      error: `Unexpected argument: ${positional[4]} (${USAGE_CLIENT})`,
    };
  }
  if (serverOnly.length > 0) {
    return { error: `Not a client option: ${serverOnly[0]}` };
  }
  let keepaliveSeconds: number | undefined;
  if (keepalive !== undefined) {
    keepaliveSeconds = Number(keepalive);
    if (
      !/^\d+(\.\d+)?$/.test(keepalive) || keepaliveSeconds < 1 ||
      keepaliveSeconds > 3600
    ) {
      return {
        error: `Invalid keepalive: "${keepalive}" must be 1 to 3600 seconds`,
      };
    }
  }
  const [typed, host, sp, cp] = positional;
  // Names are kept in NFC (protocol/confusables.ts).
  const name = typed.normalize("NFC");
  if (!NAME.test(name)) {
    return {
      error:
        `Invalid name: "${name}" must be 1 to 32 letters, digits, "_", "." or "-"`,
    };
  }
  const badHost = hostError(host);
  if (badHost !== undefined) return badHost;
  const serverPort = port(sp, "server port", false);
  if (typeof serverPort !== "number") return serverPort;
  const clientPort = port(cp, "client port", true);
  if (typeof clientPort !== "number") return clientPort;
  const client: Config = {
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
  if (keepaliveSeconds !== undefined) client.keepalive = keepaliveSeconds;
  if (claim) client.claim = true;
  if (failover.length > 0) {
    const nodes: { host: string; port: number }[] = [];
    for (const spec of failover) {
      const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(spec);
      if (m === null) {
        return {
          error:
            `Invalid failover server: "${spec}" (HOST:PORT, [::1]:PORT for IPv6)`,
        };
      }
      const hostProblem = hostError(m[1]);
      if (hostProblem !== undefined) return hostProblem;
      const p = port(m[2], "failover port", false);
      if (typeof p !== "number") return p;
      nodes.push({ host: m[1], port: p });
    }
    client.failover = nodes;
  }
  return client;
}

/**
 * Checks `--exec` commands before anything is sent, so that a typo in a CI
 * job fails at once and runs nothing: every command must be one, with its
 * arguments; `dereg`/`reg` take this client's own name; nothing may follow
 * `exit` (it would never run); at most one message body comes from
 * standard input (`-`).
 *
 * @param exec The `--exec` commands, in order.
 * @param name The client's name.
 * @returns What is wrong (one line, as {@linkcode parseCommandLine}'s
 * errors), or nothing.
 *
 * @example Usage
 * ```ts
 * import { checkExec } from "./args.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * assertEquals(checkExec(["send_all hi"], "bot"), undefined);
 * assertEquals(checkExec(["bogus cmd"], "bot"), {
 *   error: 'Unknown command in --exec "bogus cmd": bogus',
 * });
 * ```
 */
export function checkExec(
  exec: readonly string[],
  name: string,
): UsageError | undefined {
  let stdin = 0;
  for (const [i, line] of exec.entries()) {
    const c = parseCommand(line);
    const quoted = JSON.stringify(line);
    switch (c.cmd) {
      case "empty":
        return { error: "Empty command after --exec" };
      case "unknown":
        return { error: `Unknown command in --exec ${quoted}: ${c.word}` };
      case "usage":
        return {
          error:
            `Incomplete command in --exec ${quoted}: missing or extra arguments`,
        };
      case "dereg":
      case "reg":
        if (c.name !== name) {
          return {
            error:
              `Not your name in --exec ${quoted}: ${c.cmd} takes this client's own name (${name})`,
          };
        }
        break;
      case "exit":
        if (i < exec.length - 1) {
          return {
            error: `Command after exit would never run: --exec ${
              JSON.stringify(exec[i + 1])
            }`,
          };
        }
        break;
      case "send":
      case "send_all":
        if (c.text === "-" && ++stdin > 1) {
          return {
            error:
              `Only one --exec command may read its message from standard input: ${quoted}`,
          };
        }
        break;
    }
  }
  return undefined;
}
