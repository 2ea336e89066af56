// A real `nats-server -js` for the benchmarks (the same way as the tests'
// tests/_nats_server.ts, which bench/ does not import): on a free TCP port of
// 127.0.0.1 with its own temporary store directory, waited on until it
// accepts connections (polled, bounded), killed and its directory removed by
// `stop()`. Debian's package `nats-server` installs /usr/sbin/nats-server.

/** Where `nats-server` is: on PATH, or in /usr/sbin; undefined if nowhere. */
export function natsServerPath(): string | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...dirs, "/usr/sbin", "/usr/local/sbin"]) {
    try {
      if (Deno.statSync(`${dir}/nats-server`).isFile) {
        return `${dir}/nats-server`;
      }
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Why the NATS measurements are skipped, or undefined when they can run. */
export function natsSkipReason(): string | undefined {
  return natsServerPath() === undefined
    ? "nats-server is not installed (Debian package nats-server; .ci/run installs it)"
    : undefined;
}

/** Most time to wait for nats-server to accept connections (a hang guard). */
const START_TIMEOUT_MS = 15_000;

/** A running `nats-server -js`. */
export class BenchNats {
  /** The TCP port clients connect to. */
  readonly port: number;
  /** The JetStream store directory (`-sd`), removed by `stop()`. */
  readonly dir: string;
  #child: Deno.ChildProcess;

  private constructor(port: number, dir: string, child: Deno.ChildProcess) {
    this.port = port;
    this.dir = dir;
    this.#child = child;
  }

  /** The URL for `--store`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts one on a free port with a new temporary directory, accepting. */
  static async start(): Promise<BenchNats> {
    const path = natsServerPath();
    if (path === undefined) throw new Error(natsSkipReason());
    const dir = await Deno.makeTempDir({ prefix: "udpchat_bench_nats_" });
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command(path, {
      args: [
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "-sd",
        dir,
        "-l",
        `${dir}/nats-server.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const nats = new BenchNats(port, dir, child);
    let exited = false;
    child.status.then(() => (exited = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited || Date.now() > deadline) {
        await nats.stop();
        throw new Error(`nats-server did not start on port ${port}`);
      }
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return nats;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /** Kills it and removes its store directory. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await this.#child.status;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
