/**
 * A real `nats-server` with JetStream for tests: started on a free TCP port
 * of 127.0.0.1 with its own temporary store directory, waited on until it
 * accepts connections (polled by connecting, no fixed sleep), killed and
 * restarted on the same port and directory for durability tests, and removed
 * with {@linkcode NatsServer.stop}.
 *
 * Debian's package `nats-server` installs `/usr/sbin/nats-server`; `.ci/run`
 * installs it. Without it, tests that need it are skipped: use
 * {@linkcode NATS_SKIP_REASON} as their `ignore`.
 *
 * @module
 */

/** Where `nats-server` is: on PATH, or in `/usr/sbin`; `undefined` if nowhere. */
export function natsServerPath(): string | undefined {
  let path = "";
  try {
    path = Deno.env.get("PATH") ?? "";
  } catch {
    // no --allow-env: look in the usual places only
  }
  const dirs = path.split(":").filter((d) => d !== "");
  for (const dir of [...dirs, "/usr/sbin", "/usr/local/sbin"]) {
    const path = `${dir}/nats-server`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why tests that need `nats-server` are skipped, or `undefined` when it is
 * installed.
 */
export const NATS_SKIP_REASON: string | undefined = natsServerPath() ===
    undefined
  ? "nats-server is not installed (Debian package nats-server; .ci/run installs it)"
  : undefined;

/** A free TCP port on 127.0.0.1, never the same one twice in a process. */
export function freeTcpPort(): number {
  for (;;) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

const given = new Set<number>();

/** Most time to wait for a starting server, in ms (a hang guard, not a test). */
const START_TIMEOUT_MS = 15_000;
/** Pause between connection attempts while a server starts, in ms. */
const POLL_MS = 10;

/** A running (or stopped, restartable) `nats-server -js`. */
export class NatsServer {
  /** The TCP port clients connect to. */
  readonly port: number;
  /** The JetStream store directory (`-sd`). */
  readonly dir: string;
  #path: string;
  #child: Deno.ChildProcess | undefined;
  #status: Promise<Deno.CommandStatus> | undefined;

  private constructor(path: string, port: number, dir: string) {
    this.#path = path;
    this.port = port;
    this.dir = dir;
  }

  /**
   * Starts a server on a free port with a new temporary store directory and
   * resolves once it accepts connections.
   *
   * @throws when `nats-server` is not installed, exits, or does not accept
   *   connections within 15 s.
   */
  static async start(): Promise<NatsServer> {
    const path = natsServerPath();
    if (path === undefined) throw new Error(NATS_SKIP_REASON);
    const dir = await Deno.makeTempDir({ prefix: "udpchat_nats_" });
    const server = new NatsServer(path, freeTcpPort(), dir);
    try {
      await server.restart();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The URL for `--store nats://...` and NATS clients. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether the process is running (started and not yet exited). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /**
   * Starts the server again on the same port and store directory (after
   * {@linkcode NatsServer.kill}) and resolves once it accepts connections.
   * Does nothing while it runs.
   */
  async restart(): Promise<void> {
    if (this.#child !== undefined) return;
    const child = new Deno.Command(this.#path, {
      args: [
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        String(this.port),
        "-sd",
        this.dir,
        "-l",
        `${this.dir}/nats-server.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#status = child.status;
    let exited = false;
    this.#status.then(() => (exited = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited) {
        this.#child = undefined;
        throw new Error(`nats-server exited at start:\n${await this.#log()}`);
      }
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.port,
        });
        conn.close();
        return;
      } catch {
        // not accepting yet
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `nats-server did not accept connections:\n${await this.#log()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /**
   * Sends `signal` (default `SIGKILL`: no shutdown, as in a crash) and
   * resolves once the process has exited. Does nothing when not running.
   */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    child.kill(signal);
    await this.#status;
    this.#child = undefined;
  }

  /** Kills the server if it runs and removes its store directory. */
  async stop(): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Same as {@linkcode NatsServer.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #log(): Promise<string> {
    try {
      return await Deno.readTextFile(`${this.dir}/nats-server.log`);
    } catch {
      return "(no log)";
    }
  }
}

/**
 * A TCP proxy in this process in front of a NATS server, whose forwarding
 * can be held and let go synchronously: while held, what either side sends
 * is kept (the connections stay open), as with a server that hangs; when let
 * go, it is delivered in order. Unlike `SIGSTOP`, holding takes effect before
 * the next byte is written.
 */
export class HoldingProxy {
  /** The port clients connect to. */
  readonly port: number;
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #pumps = new Set<Promise<void>>();
  #gate: PromiseWithResolvers<void> | undefined;
  #accepting: Promise<void>;

  /** Listens on a free port of 127.0.0.1 and forwards to `target` there. */
  constructor(target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept(target);
  }

  /** The URL for NATS clients. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Holds everything from now on until {@linkcode HoldingProxy.release}. */
  hold(): void {
    this.#gate ??= Promise.withResolvers<void>();
  }

  /** Delivers what was held and forwards again. */
  release(): void {
    this.#gate?.resolve();
    this.#gate = undefined;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.release();
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await Promise.all(this.#pumps);
  }

  async #accept(target: number): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      } catch {
        client.close();
        continue;
      }
      this.#conns.add(client);
      this.#conns.add(server);
      const pair = [client, server];
      for (const [from, to] of [[client, server], [server, client]]) {
        const pump = this.#pump(from, to).finally(() => {
          this.#pumps.delete(pump);
          for (const c of pair) {
            if (this.#conns.delete(c)) {
              try {
                c.close();
              } catch {
                // already closed
              }
            }
          }
        });
        this.#pumps.add(pump);
      }
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) return;
        while (this.#gate !== undefined) await this.#gate.promise;
        let written = 0;
        while (written < n) {
          written += await to.write(buffer.subarray(written, n));
        }
      }
    } catch {
      // a side closed
    }
  }
}
