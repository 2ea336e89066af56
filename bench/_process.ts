// Real processes for the benchmarks: a udpchat server or client started with
// `--allow-net` only (`deno run --allow-net main.ts ...`), its stdout read
// line by line (lines are matched as they come, not kept), its RSS read from
// /proc. Every process started here is stopped by `stop()`.
import { readLines } from "../runtime/stdin_lines.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const given = new Set<number>();

/** A free UDP port on 127.0.0.1, never the same one twice in a run. */
export function freePort(): number {
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

interface Waiter {
  test: (line: string) => boolean;
  resolve: (line: string) => void;
}

/** A child process whose stdout lines can be waited for. */
export class Child {
  readonly pid: number;
  readonly label: string;
  /** Lines printed so far (counted, not kept). */
  lineCount = 0;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters = new Set<Waiter>();
  #reading: Promise<void>;
  #exited = false;
  readonly status: Promise<number>;

  constructor(args: string[], label: string, command = Deno.execPath()) {
    this.label = label;
    const child = new Deno.Command(command, {
      args,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      return s.code;
    });
    this.#reading = (async () => {
      for await (const raw of readLines(child.stdout)) {
        this.lineCount++;
        const line = raw.replace(/^(>>> )+/, "").trimEnd();
        for (const w of this.#waiters) {
          if (w.test(line)) {
            this.#waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    })().catch(() => {});
  }

  /**
   * Resolves with the next line that passes `test` (register it before the
   * action that causes the line). Rejects after `timeoutMs` or on exit.
   */
  next(test: (line: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const w: Waiter = { test, resolve };
    this.#waiters.add(w);
    const timer = setTimeout(() => {
      this.#waiters.delete(w);
      reject(new Error(`${this.label}: no matching line in ${timeoutMs} ms`));
    }, timeoutMs);
    this.status.then(() => {
      if (this.#waiters.delete(w)) {
        reject(new Error(`${this.label}: exited`));
      }
    });
    return promise.finally(() => clearTimeout(timer));
  }

  /** Types a line on the process's stdin. */
  async type(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** Stops the process (SIGINT, then SIGKILL after 5 s) and waits for it. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGINT");
      } catch {
        // Already gone.
      }
    }
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5_000);
    await this.status;
    clearTimeout(killer);
    try {
      await this.#writer.close();
    } catch {
      // Closed with the process.
    }
    await this.#reading;
  }
}

/**
 * A udpchat server process, online: on a free port, or on `options.port`
 * (a restart on the port of a server that stopped), with `options.args`
 * after `-s PORT` (e.g. `--store nats://...`). `BENCH_SERVER_FLAGS` adds
 * flags to its `deno run`, e.g. `--cpu-prof --cpu-prof-dir=prof`.
 */
export async function startServer(
  options: { port?: number; args?: readonly string[] } = {},
): Promise<{ child: Child; port: number }> {
  const port = options.port ?? freePort();
  const extra = (Deno.env.get("BENCH_SERVER_FLAGS") ?? "").split(" ")
    .filter((f) => f !== "");
  const child = new Child(
    [
      "run",
      "--allow-net",
      ...extra,
      "main.ts",
      "-s",
      String(port),
      ...options.args ?? [],
    ],
    "server",
  );
  await child.next((l) => l === "[Server is online...]", 30_000);
  return { child, port };
}

/** Types `stats` on a server and parses the `[Stats: ...]` line. */
export async function serverStats(
  server: Child,
): Promise<Record<string, number>> {
  const line = server.next((l) => l.startsWith("[Stats: "), 120_000);
  await server.type("stats");
  const out: Record<string, number> = {};
  for (const [, k, v] of (await line).matchAll(/(\w+)=(\d+)/g)) {
    out[k] = Number(v);
  }
  return out;
}

/** A udpchat client process, started and waited for until it has its table. */
export async function startClient(
  name: string,
  serverPort: number,
): Promise<Child> {
  const child = new Child([
    "run",
    "--allow-net",
    "main.ts",
    "-c",
    name,
    "127.0.0.1",
    String(serverPort),
    String(freePort()),
  ], name);
  await child.next((l) => l.startsWith("{"), 30_000);
  return child;
}

/** A process's resident and peak resident memory in bytes, from /proc. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { rss: kb("VmRSS") * 1024, peak: kb("VmHWM") * 1024 };
}

/** The echo servers the benchmarks compare udpchat with. */
export type EchoKind = "deno" | "node" | "c";

/** What each echo server is. */
export const ECHO_LABEL: Record<EchoKind, string> = {
  deno: "Deno echo (same runtime)",
  node: "Node dgram echo",
  c: "C echo (physical floor)",
};

let cEcho: string | undefined;

/**
 * A minimal UDP echo server, ready: in Deno (bench/_echo_server.ts, the same
 * runtime as udpchat), in Node's `dgram` (bench/_echo_server.mjs) or in C
 * (bench/_echo_server.c, compiled here with `gcc -O2` into a temporary
 * directory): the last is the physical floor of this machine's loopback.
 */
export async function startEcho(
  kind: EchoKind = "deno",
): Promise<{ child: Child; port: number }> {
  const port = freePort();
  let child: Child;
  if (kind === "deno") {
    child = new Child(
      ["run", "--allow-net", "bench/_echo_server.ts", String(port)],
      "echo",
    );
  } else if (kind === "node") {
    child = new Child(
      ["bench/_echo_server.mjs", String(port)],
      "node echo",
      "node",
    );
  } else {
    if (cEcho === undefined) {
      const dir = await Deno.makeTempDir({ prefix: "udpchat-bench-" });
      cEcho = `${dir}/echo`;
      const gcc = await new Deno.Command("gcc", {
        args: ["-O2", "-o", cEcho, `${ROOT}bench/_echo_server.c`],
        stdout: "null",
        stderr: "inherit",
      }).output();
      if (!gcc.success) throw new Error("gcc failed on bench/_echo_server.c");
      globalThis.addEventListener("unload", () => {
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch {
          // Gone already.
        }
      });
    }
    child = new Child([String(port)], "c echo", cEcho);
  }
  await child.next((l) => l === "ready", 30_000);
  return { child, port };
}

/**
 * Datagrams the kernel dropped at a local UDP port because its socket's
 * receive buffer was full (the `drops` column of /proc/net/udp and udp6).
 */
export function udpDrops(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  let drops = 0;
  for (const file of ["/proc/net/udp", "/proc/net/udp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 12 && (f[1] + " ").includes(hex)) drops += Number(f[12]);
    }
  }
  return drops;
}
