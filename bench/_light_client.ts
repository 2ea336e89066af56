// A light simulated client for load: registers with the real protocol, ACKs
// every reliable datagram, and tracks the table rows and group messages it
// sees. Cheap enough to run ten thousand in one process.
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";

/** Counters shared by many light clients. */
export interface LightStats {
  /** Largest datagram received, in bytes. */
  largest: number;
  /** Datagrams received. */
  received: number;
}

/** A light client on its own socket. */
export class LightClient {
  readonly name: string;
  readonly conn: Deno.DatagramConn;
  readonly port: number;
  tok = "";
  registered = false;
  /** Names seen Online in the table. */
  readonly online = new Set<string>();
  groupSeen = 0;
  notes: Message[] = [];
  #server: { transport: "udp"; hostname: string; port: number };
  #id: number;
  #stats: LightStats;
  #running: Promise<void>;
  #closed = false;
  #waiters: (() => void)[] = [];
  #regId = 0;
  #lastReg = 0;

  constructor(
    name: string,
    serverPort: number,
    stats: LightStats,
    hostname = "127.0.0.1",
  ) {
    this.name = name;
    this.conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    this.port = (this.conn.addr as Deno.NetAddr).port;
    this.#server = {
      transport: "udp",
      hostname: "127.0.0.1",
      port: serverPort,
    };
    this.#id = Math.floor(Math.random() * 1e9);
    this.#stats = stats;
    this.#running = this.#loop();
  }

  /** Sends a message to the server. */
  async send(m: Message): Promise<void> {
    try {
      await this.conn.send(encodeMessage(m), this.#server);
    } catch {
      // Closed.
    }
  }

  /** Sends `reg`; call again to retransmit. */
  async register(now: number): Promise<void> {
    this.#lastReg = now;
    this.#regId = this.#id++;
    await this.send({ t: "reg", id: this.#regId, name: this.name });
  }

  /** Whether a registration attempt is older than `ms`. */
  stale(now: number, ms: number): boolean {
    return !this.registered && now - this.#lastReg > ms;
  }

  /** A fresh request id. */
  nextId(): number {
    return this.#id++;
  }

  /** Resolves at the next datagram this client handles. */
  changed(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  async #loop(): Promise<void> {
    const buf = new Uint8Array(65_507);
    while (!this.#closed) {
      let data: Uint8Array;
      try {
        [data] = await this.conn.receive(buf);
      } catch {
        return;
      }
      this.#stats.received++;
      if (data.length > this.#stats.largest) this.#stats.largest = data.length;
      const r = decodeMessage(data);
      if (!r.ok) continue;
      const m = r.message;
      switch (m.t) {
        case "retry":
          if (m.id === this.#regId) {
            this.#regId = this.#id++;
            await this.send({
              t: "reg",
              id: this.#regId,
              name: this.name,
              ck: m.ck,
            });
          }
          break;
        case "welcome":
          this.tok = m.tok;
          this.registered = true;
          break;
        case "tbl":
          for (const [name, , , on] of m.rows) {
            if (on) this.online.add(name);
            else this.online.delete(name);
          }
          await this.send({ t: "ack", id: m.id });
          break;
        case "msg":
          if (m.g === 1) this.groupSeen++;
          await this.send({ t: "ack", id: m.id });
          break;
        case "note":
          this.notes.push(m);
          await this.send({ t: "ack", id: m.id });
          break;
        case "ping":
          await this.send({ t: "ack", id: m.id });
          break;
        case "ack":
        case "err":
          this.notes.push(m);
          break;
      }
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /** Closes the socket. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#running;
  }
}

/** Registers clients, retransmitting `reg` for those not yet answered. */
export async function registerAll(
  clients: LightClient[],
  timeoutMs: number,
): Promise<boolean> {
  const start = Date.now();
  for (let i = 0; i < clients.length; i++) {
    await clients[i].register(Date.now());
    if (i % 32 === 31) await new Promise((r) => setTimeout(r, 0));
  }
  while (Date.now() - start < timeoutMs) {
    const waiting = clients.filter((c) => !c.registered);
    if (waiting.length === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
    let n = 0;
    for (const c of waiting) {
      if (c.stale(Date.now(), 500)) {
        await c.register(Date.now());
        if (++n % 32 === 0) await new Promise((r) => setTimeout(r, 0));
      }
    }
  }
  return false;
}
