/**
 * Real udpchat processes for end-to-end tests: started with `--allow-net`
 * as their only permission, read line by line as they print, waited on by
 * events (a line arriving, the process exiting), never by fixed sleeps.
 *
 * @module
 */

import { readLines } from "../runtime/stdin_lines.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** A free UDP port on 127.0.0.1. */
export function freePort(): number {
  // The kernel may hand a just-closed port out again: never give one twice.
  for (;;) {
    const c = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const port = (c.addr as Deno.NetAddr).port;
    c.close();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

const given = new Set<number>();

/** A line to wait for: exact text, a pattern, or a predicate. */
export type Pattern = string | RegExp | ((line: string) => boolean);

function matcher(pattern: Pattern): (line: string) => boolean {
  if (typeof pattern === "string") return (l) => l === pattern;
  if (pattern instanceof RegExp) return (l) => pattern.test(l);
  return pattern;
}

interface Waiter {
  test: (line: string) => boolean;
  from: number;
  resolve: (index: number) => void;
}

/** A running udpchat process. */
export class Proc {
  /** Lines printed so far, without `>>> ` and trailing spaces. */
  readonly lines: string[] = [];
  /** Text written to stderr. */
  stderr = "";
  /** The exit status, once exited. */
  readonly status: Promise<number>;
  #child: Deno.ChildProcess;
  #waiters = new Set<Waiter>();
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #done: Promise<unknown>;
  #exited = false;
  /** The name, for error messages. */
  readonly label: string;

  /**
   * @param args Arguments after `main.ts`.
   * @param options `label` for messages, `env` additions, `cmd` to wrap (e.g. `ip netns exec`),
   * `script` to run instead of `main.ts` (e.g. `tests/_abuse_server.ts`).
   */
  constructor(
    args: string[],
    options: {
      label?: string;
      env?: Record<string, string>;
      wrap?: string[];
      script?: string;
    } = {},
  ) {
    this.label = options.label ?? args.join(" ");
    const script = options.script ?? "main.ts";
    const denoArgs = ["run", "--allow-net", script, ...args];
    const wrap = options.wrap ?? [];
    const cmd = wrap.length > 0 ? wrap[0] : Deno.execPath();
    const cmdArgs = wrap.length > 0
      ? [...wrap.slice(1), Deno.execPath(), ...denoArgs]
      : denoArgs;
    this.#child = new Deno.Command(cmd, {
      args: cmdArgs,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...options.env },
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const out = this.#read(this.#child.stdout, (line) => this.#onLine(line));
    const err = this.#read(
      this.#child.stderr,
      (line) => (this.stderr += line + "\n"),
    );
    const exited = this.#child.status.then((s) => {
      this.#exited = true;
      return s.code;
    });
    // The status is known once everything the process printed has been read.
    this.status = Promise.all([exited, out, err]).then(([code]) => code);
    this.#done = this.status;
  }

  async #read(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string) => void,
  ): Promise<void> {
    for await (const line of readLines(stream)) onLine(line);
  }

  #onLine(raw: string): void {
    const line = raw.replace(/^(>>> )+/, "").trimEnd();
    this.lines.push(line);
    const index = this.lines.length - 1;
    for (const w of this.#waiters) {
      if (index >= w.from && w.test(line)) {
        this.#waiters.delete(w);
        w.resolve(index);
      }
    }
  }

  /**
   * Resolves with the index of the first line at or after `from` that
   * matches. Rejects if the process exits first or after `timeoutMs` (a
   * safety net against hangs, not a timing assertion).
   */
  waitFor(
    pattern: Pattern,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<number> {
    const test = matcher(pattern);
    const from = options.from ?? 0;
    const found = this.lines.findIndex((l, i) => i >= from && test(l));
    if (found >= 0) return Promise.resolve(found);
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const waiter: Waiter = { test, from, resolve };
    this.#waiters.add(waiter);
    const timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      reject(
        new Error(
          `${this.label}: no line ${pattern} after ${
            options.timeoutMs ?? 15000
          } ms; lines:\n${this.lines.join("\n")}\nstderr:\n${this.stderr}`,
        ),
      );
    }, options.timeoutMs ?? 15000);
    const exited = this.status.then(() => {
      // Give the reader the last lines before giving up.
      return this.#done;
    }).then(() => {
      if (!this.#waiters.has(waiter)) return;
      this.#waiters.delete(waiter);
      reject(
        new Error(
          `${this.label}: exited before printing ${pattern}; lines:\n${
            this.lines.join("\n")
          }\nstderr:\n${this.stderr}`,
        ),
      );
    });
    return promise.finally(() => {
      clearTimeout(timer);
      void exited;
    });
  }

  /** Waits for `count` lines at or after `from` that match, returning the last index. */
  async waitForCount(
    pattern: Pattern,
    count: number,
    options: { from?: number } = {},
  ): Promise<number> {
    let from = options.from ?? 0;
    let index = -1;
    for (let i = 0; i < count; i++) {
      index = await this.waitFor(pattern, { from });
      from = index + 1;
    }
    return index;
  }

  /** How many lines match. */
  count(pattern: Pattern, from = 0): number {
    const test = matcher(pattern);
    return this.lines.filter((l, i) => i >= from && test(l)).length;
  }

  /** Types a line. */
  async type(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Sends a signal (default SIGINT, as Ctrl+C). */
  kill(signal: Deno.Signal = "SIGINT"): void {
    if (!this.#exited) {
      try {
        this.#child.kill(signal);
      } catch {
        // Already gone.
      }
    }
  }

  /** Kills the process if it still runs and waits for its streams. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    try {
      await this.#writer.close();
    } catch {
      // Already closed.
    }
    await this.#done;
  }

  /** Closes stdin (end of piped input). */
  async closeStdin(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // Already closed.
    }
  }
}

/** Starts a server and waits until it is online. */
export async function startServer(
  port: number,
  options: { wrap?: string[] } = {},
): Promise<Proc> {
  const p = new Proc(["-s", String(port)], {
    label: "server",
    wrap: options.wrap,
  });
  await p.waitFor("[Server is online...]");
  return p;
}

/** Starts a client and waits until it has its first table. */
export async function startClient(
  name: string,
  serverPort: number,
  clientPort: number,
  options: {
    host?: string;
    wrap?: string[];
    args?: string[];
    /** The line that says it is ready (default: its first table). */
    ready?: Pattern;
  } = {},
): Promise<Proc> {
  const p = new Proc([
    "-c",
    name,
    options.host ?? "127.0.0.1",
    String(serverPort),
    String(clientPort),
    ...(options.args ?? []),
  ], {
    label: name,
    wrap: options.wrap,
  });
  await p.waitFor(options.ready ?? /^\{/);
  return p;
}

/** Types `stats` on a server's stdin and parses the `[Stats: ...]` line it prints. */
export async function serverStats(
  server: Proc,
  options: { timeoutMs?: number } = {},
): Promise<Record<string, number>> {
  const from = server.lines.length;
  await server.type("stats");
  const i = await server.waitFor(/^\[Stats: /, {
    from,
    timeoutMs: options.timeoutMs,
  });
  const out: Record<string, number> = {};
  for (const [, k, v] of server.lines[i].matchAll(/(\w+)=(\d+)/g)) {
    out[k] = Number(v);
  }
  return out;
}
