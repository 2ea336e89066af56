// A light simulated client for load: its own UDP socket on 127.0.0.1,
// hand-built protocol datagrams, requests retransmitted (same id) until
// answered, every reliable datagram from the server ACKed. It tracks the
// table rows it is sent (small rooms), or the counts of the summaries (big
// rooms), or ignores both to measure other paths, and the group messages and
// notices it gets. Cheap enough to run thousands in one process; the server
// cannot tell it from a real client.
import { setImmediate } from "node:timers";
import { type ClaimKey, regPayload } from "../protocol/claim.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { AgreementKey } from "../protocol/e2e_crypto.ts";
import type {
  Message,
  NoteMessage,
  Row,
  SummaryMessage,
  TableMessage,
} from "../protocol/messages.ts";
import {
  isSealed,
  TRANSIT_NONCE_BYTES,
  type TransitSession,
  transitSession,
} from "../protocol/transit_crypto.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Traffic counters shared by many light clients. */
export interface Traffic {
  /** Datagrams sent by the clients. */
  sent: number;
  /** Bytes sent by the clients. */
  sentBytes: number;
  /** Datagrams the clients received. */
  received: number;
  /** Bytes the clients received. */
  receivedBytes: number;
  /** Largest datagram received, in bytes. */
  largestIn: number;
  /** Largest datagram sent, in bytes. */
  largestOut: number;
}

/** Fresh traffic counters. */
export function newTraffic(): Traffic {
  return {
    sent: 0,
    sentBytes: 0,
    received: 0,
    receivedBytes: 0,
    largestIn: 0,
    largestOut: 0,
  };
}

/** Gives the event loop (and so every socket's receive loop) a turn. */
export function yieldNow(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * What a light client does with table datagrams: `track` decodes the rows
 * and ACKs (a real client's job); `ignore` neither decodes nor ACKs them, so
 * the server's table streaming stays within its retry window (used where
 * another path is measured).
 */
export type TableMode = "track" | "ignore";

/**
 * What a light client proves and seals, as a real client with the same
 * options would (client/server_requests.ts, client/transit.ts):
 * `agreement`, its X25519 key, sent as `xk` in `reg`, after which every
 * datagram to the server but `reg` is sealed (a random nonce each) and the
 * server's envelopes are opened; `claim`, its Ed25519 key, sent as `pk`,
 * with the server's challenge signed (`ch`, `sig`).
 */
export interface LightKeys {
  /** X25519 key: transit sealing with the server. */
  agreement?: AgreementKey;
  /** Ed25519 key: a claimed name. */
  claim?: ClaimKey;
}

interface Request {
  bytes: Uint8Array;
  resolve: (m: Message | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
  gap: number;
  deadline: number;
}

/** A light client on its own socket. */
export class LightClient {
  name: string;
  readonly conn: Deno.DatagramConn;
  readonly port: number;
  tok = "";
  registered = false;
  /** The answer of the last registration that failed (undefined: none came). */
  refusal?: Message;
  tables: TableMode;
  /** Names this client's table shows Online. */
  readonly online = new Set<string>();
  /** A big room's counts, from the last summary (`sum`). */
  users = 0;
  usersOnline = 0;
  /** Distinct group messages received. */
  groupSeen = 0;
  /** Notices received. */
  readonly notes: NoteMessage[] = [];
  /** Called after each table datagram this client handled. */
  onTable?: (c: LightClient) => void;
  /** Called with each notice. */
  onNote?: (m: NoteMessage) => void;
  /** When set, every datagram goes here undecoded (for load generation). */
  raw?: (bytes: Uint8Array) => void;
  #server: Deno.NetAddr;
  #id: number;
  #traffic: Traffic;
  #running: Promise<void>;
  #closed = false;
  #requests = new Map<number, Request>();
  #ck: string | undefined;
  #ch: string | undefined;
  #lastGroup = "";
  #keys: LightKeys;
  #session: TransitSession | undefined;

  constructor(
    name: string,
    serverPort: number,
    traffic: Traffic,
    tables: TableMode = "track",
    hostname = "127.0.0.1",
    keys: LightKeys = {},
  ) {
    this.name = name;
    this.#keys = keys;
    this.tables = tables;
    this.conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    this.port = (this.conn.addr as Deno.NetAddr).port;
    this.#server = {
      transport: "udp",
      hostname: "127.0.0.1",
      port: serverPort,
    };
    this.#id = Math.floor(Math.random() * 1e9);
    this.#traffic = traffic;
    this.#running = this.#loop();
  }

  /** A fresh request id. */
  nextId(): number {
    return this.#id++;
  }

  /** Whether datagrams to and from the server are sealed (after a welcome). */
  get sealed(): boolean {
    return this.#session !== undefined;
  }

  /**
   * Sends bytes to the server (counted), sealed when a transit session is
   * keyed (a `reg` never is).
   */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    // '{"v":1,"t":"reg"': bytes 12 and 13 are "re".
    if (
      this.#session !== undefined && !(bytes[12] === 114 && bytes[13] === 101)
    ) {
      bytes = this.#session.seal(
        bytes,
        crypto.getRandomValues(new Uint8Array(TRANSIT_NONCE_BYTES)),
      );
    }
    const t = this.#traffic;
    t.sent++;
    t.sentBytes += bytes.length;
    if (bytes.length > t.largestOut) t.largestOut = bytes.length;
    try {
      await this.conn.send(bytes, this.#server);
    } catch {
      // Closed.
    }
  }

  /** Sends a message to the server. */
  send(m: Message): Promise<void> {
    return this.sendBytes(encodeMessage(m));
  }

  /**
   * Sends a request (its `id` set) and resolves with the server's answer to
   * that id (`ack`, `err`, `retry` or `welcome`), retransmitting the same
   * datagram with backoff (200 ms doubling to 1 s); undefined after `timeoutMs`.
   */
  request(m: Message & { id: number }, timeoutMs = 30_000): Promise<
    Message | undefined
  > {
    const { promise, resolve } = Promise.withResolvers<Message | undefined>();
    const bytes = encodeMessage(m);
    const req: Request = {
      bytes,
      resolve,
      timer: undefined as unknown as ReturnType<typeof setTimeout>,
      gap: 200,
      deadline: Date.now() + timeoutMs,
    };
    const retry = () => {
      if (this.#closed || Date.now() >= req.deadline) {
        this.#requests.delete(m.id);
        return resolve(undefined);
      }
      this.sendBytes(bytes);
      req.timer = setTimeout(retry, req.gap);
      req.gap = Math.min(1_000, req.gap * 2);
    };
    this.#requests.set(m.id, req);
    this.sendBytes(bytes);
    req.timer = setTimeout(retry, req.gap);
    req.gap *= 2;
    return promise;
  }

  /**
   * Registers (as `name`, default this client's): `reg`, then `reg` with the
   * cookie the server returns (kept for this address), until `welcome`.
   */
  async register(name = this.name, timeoutMs = 30_000): Promise<boolean> {
    this.name = name;
    const end = Date.now() + timeoutMs;
    for (let i = 0; i < 3 && Date.now() < end; i++) {
      const reg: Message & { id: number } = {
        t: "reg",
        id: this.nextId(),
        name,
      };
      if (this.#ck !== undefined) reg.ck = this.#ck;
      const { agreement, claim } = this.#keys;
      const xk = agreement?.publicKey;
      if (claim !== undefined) {
        reg.pk = claim.publicKey;
        if (this.#ch !== undefined) {
          reg.ch = this.#ch;
          reg.sig = claim.sign(
            regPayload({
              name,
              ch: this.#ch,
              pk: claim.publicKey,
              ...(xk === undefined ? {} : { xk }),
            }),
          );
          this.#ch = undefined;
        }
      }
      if (xk !== undefined) reg.xk = xk;
      // A new agreement: the answer comes in clear.
      this.#session = undefined;
      const r = await this.request(reg, end - Date.now());
      if (r?.t === "retry") {
        this.#ck = r.ck;
        this.#ch = r.ch;
        continue;
      }
      if (r?.t === "welcome") {
        this.#session = agreement === undefined || r.sk === undefined
          ? undefined
          : transitSession(agreement, { peer: r.sk, role: "client" });
        this.tok = r.tok;
        this.registered = true;
        return true;
      }
      this.refusal = r;
      return false;
    }
    return false;
  }

  /** Looks a user up (`who`): its row, or undefined if unknown or unanswered. */
  async who(name: string, timeoutMs = 10_000): Promise<Row | undefined> {
    const r = await this.request({
      t: "who",
      id: this.nextId(),
      tok: this.tok,
      name,
    }, timeoutMs);
    return r?.t === "ack" ? r.rows?.[0] : undefined;
  }

  /** Leaves (`dereg`); true once ACKed. */
  async dereg(timeoutMs = 30_000): Promise<boolean> {
    const r = await this.request({
      t: "dereg",
      id: this.nextId(),
      name: this.name,
      tok: this.tok,
    }, timeoutMs);
    if (r?.t === "ack") this.registered = false;
    return r?.t === "ack";
  }

  async #loop(): Promise<void> {
    const buf = new Uint8Array(65_507);
    const t = this.#traffic;
    while (!this.#closed) {
      let data: Uint8Array, from: Deno.Addr;
      try {
        [data, from] = await this.conn.receive(buf);
      } catch {
        return;
      }
      // Only the server's datagrams (a port reused from an earlier run may
      // still get another server's retransmissions).
      if ((from as Deno.NetAddr).port !== this.#server.port) continue;
      if (isSealed(data)) {
        const plain = this.#session?.open(data);
        if (plain === undefined) continue;
        data = plain;
      }
      t.received++;
      t.receivedBytes += data.length;
      if (data.length > t.largestIn) t.largestIn = data.length;
      if (this.raw !== undefined) {
        this.raw(data);
        continue;
      }
      // Encoded as '{"v":1,"t":"sum",...': bytes 12 and 13 are "su".
      if (data[12] === 115 && data[13] === 117) {
        if (this.tables === "ignore") continue;
        const m = JSON.parse(decoder.decode(data)) as SummaryMessage;
        this.users = m.u;
        this.usersOnline = m.on;
        await this.sendBytes(encoder.encode(`{"v":1,"t":"ack","id":${m.id}}`));
        this.onTable?.(this);
        continue;
      }
      // Encoded as '{"v":1,"t":"tbl",...': bytes 12 and 13 are "tb".
      if (data[12] === 116 && data[13] === 98) {
        if (this.tables === "ignore") continue;
        // The server's own encoding, read without the full validation (the
        // load generator's cost is not what is measured).
        const m = JSON.parse(decoder.decode(data)) as TableMessage;
        for (const [name, , , on] of m.rows) {
          if (on) this.online.add(name);
          else this.online.delete(name);
        }
        await this.sendBytes(encoder.encode(`{"v":1,"t":"ack","id":${m.id}}`));
        this.onTable?.(this);
        continue;
      }
      const r = decodeMessage(data);
      if (!r.ok) continue;
      const m = r.message;
      switch (m.t) {
        case "msg":
          if (m.g === 1 && m.k !== this.#lastGroup) {
            this.#lastGroup = m.k;
            this.groupSeen++;
          }
          await this.send({ t: "ack", id: m.id });
          break;
        case "note":
          await this.send({ t: "ack", id: m.id });
          this.notes.push(m);
          this.onNote?.(m);
          break;
        case "ping":
          await this.send({ t: "ack", id: m.id });
          break;
        case "ack":
        case "err":
        case "retry":
        case "welcome": {
          const req = this.#requests.get(m.id);
          if (req === undefined) break;
          this.#requests.delete(m.id);
          clearTimeout(req.timer);
          req.resolve(m);
          break;
        }
      }
    }
  }

  /** Closes the socket; pending requests resolve undefined. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const req of this.#requests.values()) {
      clearTimeout(req.timer);
      req.resolve(undefined);
    }
    this.#requests.clear();
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#running;
  }
}

/** Opens `n` light clients named `prefix0`, `prefix1`, ... */
export async function openClients(
  n: number,
  prefix: string,
  serverPort: number,
  traffic: Traffic,
  tables: TableMode,
): Promise<LightClient[]> {
  const clients: LightClient[] = [];
  for (let i = 0; i < n; i++) {
    clients.push(new LightClient(`${prefix}${i}`, serverPort, traffic, tables));
    if (i % 256 === 255) await yieldNow();
  }
  return clients;
}

/**
 * Registers every client at once, as fast as the server takes them
 * (retransmitting what it drops); resolves with how many succeeded. With
 * `window`, at most that many registrations are under way at once (each
 * finished one starts the next), so the server's receive buffer is not
 * flooded past what it holds.
 */
export async function registerAll(
  clients: LightClient[],
  timeoutMs: number,
  window?: number,
): Promise<number> {
  if (window !== undefined) {
    let next = 0, ok = 0;
    await Promise.all(Array.from({ length: window }, async () => {
      while (next < clients.length) {
        const c = clients[next++];
        if (await c.register(c.name, timeoutMs)) ok++;
      }
    }));
    return ok;
  }
  const all: Promise<boolean>[] = [];
  for (let i = 0; i < clients.length; i++) {
    all.push(clients[i].register(clients[i].name, timeoutMs));
    if (i % 64 === 63) await yieldNow();
  }
  return (await Promise.all(all)).filter((ok) => ok).length;
}

/** Closes every client. */
export async function closeAll(clients: LightClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}
