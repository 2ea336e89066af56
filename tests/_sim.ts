/**
 * A fake network and a fake clock that join the real server and client state
 * machines, for deterministic tests with loss, duplication, reordering and
 * delay. No sockets, no timers.
 *
 * @module
 */
import { type Address, addressKey } from "../protocol/address.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { ClientState } from "./_client.ts";
import { type ServerLimits, ServerState } from "../server/state.ts";
import { describeServerEvent } from "../protocol/server_lines.ts";

/** A state machine the network can drive. */
export interface Node {
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void;
  handleTimer(now: number): void;
  getTimer(): number | undefined;
  datagramsToSend(): Datagram[];
  events(): OutputEvent[];
}

/** Link behaviour. */
export interface LinkOptions {
  /** Probability a datagram is lost. */
  loss?: number;
  /** Probability a datagram is delivered twice. */
  duplicate?: number;
  /** Largest extra delay, in ms (uniform); reorders datagrams. */
  jitter?: number;
  /** Base one-way delay, in ms. */
  delay?: number;
  /** PRNG seed. */
  seed?: number;
}

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic random bytes from a seed. */
export function seededBytes(seed: number): (n: number) => Uint8Array {
  const r = prng(seed);
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

interface InFlight {
  at: number;
  seq: number;
  to: Address;
  from: Address;
  bytes: Uint8Array;
}

/** A network of nodes on a fake clock. */
export class FakeNet {
  now = 1_700_000_000_000;
  #nodes = new Map<
    string,
    { node: Node; addr: Address; lines: string[]; events: OutputEvent[] }
  >();
  #queue: InFlight[] = [];
  #seq = 0;
  #random: () => number;
  #link: Required<LinkOptions>;
  /** Datagrams sent, and the largest seen. */
  sent = 0;
  /** The largest datagram sent, in bytes. */
  largest = 0;
  /** Datagrams dropped by the link. */
  lost = 0;
  /** Hook to drop particular datagrams (return true to drop). */
  filter:
    | ((d: { from: Address; to: Address; bytes: Uint8Array }) => boolean)
    | undefined;

  /** @param link Loss, duplication and delay. */
  constructor(link: LinkOptions = {}) {
    this.#link = {
      loss: 0,
      duplicate: 0,
      jitter: 0,
      delay: 0,
      seed: 1,
      ...link,
    };
    this.#random = prng(this.#link.seed);
  }

  /** Adds a node at an address (a server's events are shown in its words). */
  add<T extends Node | ServerState>(addr: Address, node: T): T {
    this.#nodes.set(addressKey(addr), {
      node: node instanceof ServerState ? describedServer(node) : node,
      addr,
      lines: [],
      events: [],
    });
    this.#collect();
    return node;
  }

  /** Removes a node: datagrams to it are lost from now on (a killed process). */
  remove(addr: Address): void {
    this.#nodes.delete(addressKey(addr));
  }

  /** The lines a node printed so far (without `>>> `). */
  lines(addr: Address): string[] {
    return this.#nodes.get(addressKey(addr))?.lines ?? [];
  }

  /** The events a node emitted so far. */
  events(addr: Address): OutputEvent[] {
    return this.#nodes.get(addressKey(addr))?.events ?? [];
  }

  /** Injects a raw datagram. */
  inject(from: Address, to: Address, bytes: Uint8Array): void {
    this.#queue.push({ at: this.now, seq: this.#seq++, from, to, bytes });
  }

  /** Call after poking a node directly (a command): collects its output. */
  step(): void {
    this.#collect();
  }

  /** Runs until nothing is left to do before `now + ms`, and sets the clock there. */
  run(ms: number): void {
    const until = this.now + ms;
    for (let guard = 0; guard < 10_000_000; guard++) {
      const next = this.#next();
      if (next === undefined || next > until) break;
      this.now = Math.max(this.now, next);
      this.#deliverDue();
      for (const { node } of this.#nodes.values()) {
        const t = node.getTimer();
        if (t !== undefined && t <= this.now) node.handleTimer(this.now);
      }
      this.#collect();
    }
    this.now = until;
  }

  #next(): number | undefined {
    let next: number | undefined;
    for (const d of this.#queue) {
      if (next === undefined || d.at < next) next = d.at;
    }
    for (const { node } of this.#nodes.values()) {
      const t = node.getTimer();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  #deliverDue(): void {
    const due = this.#queue.filter((d) => d.at <= this.now).sort((a, b) =>
      a.at - b.at || a.seq - b.seq
    );
    this.#queue = this.#queue.filter((d) => d.at > this.now);
    for (const d of due) {
      const target = this.#nodes.get(addressKey(d.to));
      if (target === undefined) continue;
      target.node.receiveDatagram(d.bytes, d.from, this.now);
    }
  }

  #collect(): void {
    for (const entry of this.#nodes.values()) {
      for (const e of entry.node.events()) {
        entry.events.push(e);
        entry.lines.push(e.text);
      }
      for (const d of entry.node.datagramsToSend()) {
        this.sent++;
        this.largest = Math.max(this.largest, d.bytes.length);
        if (this.filter?.({ from: entry.addr, to: d.to, bytes: d.bytes })) {
          this.lost++;
          continue;
        }
        const copies = this.#random() < this.#link.duplicate ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          if (this.#random() < this.#link.loss) {
            this.lost++;
            continue;
          }
          const at = this.now + this.#link.delay +
            this.#random() * this.#link.jitter;
          this.#queue.push({
            at,
            seq: this.#seq++,
            from: entry.addr,
            to: d.to,
            bytes: d.bytes.slice(),
          });
        }
      }
    }
  }
}

/** A server whose typed events come out as the lines it prints. */
function describedServer(server: ServerState): Node {
  return {
    receiveDatagram: (bytes, from, now) =>
      server.receiveDatagram(bytes, from, now),
    handleTimer: (now) => server.handleTimer(now),
    getTimer: () => server.getTimer(),
    datagramsToSend: () => server.datagramsToSend(),
    events: () => server.events().map(describeServerEvent),
  };
}

/** The server's address in simulations. */
export const SERVER: Address = { hostname: "127.0.0.1", port: 5000 };

/** A client's address in simulations: port 6000 + i. */
export function clientAddr(i: number): Address {
  return { hostname: "127.0.0.1", port: 6000 + i };
}

/** Options for {@linkcode chat}. */
export interface ChatOptions extends LinkOptions {
  /** Server limit overrides. */
  limits?: Partial<ServerLimits>;
}

/** A server and named clients on one fake network, registered in order. */
export function chat(names: string[], options: ChatOptions = {}): {
  net: FakeNet;
  server: ServerState;
  clients: Map<string, ClientState>;
  addr: (name: string) => Address;
  type: (name: string, line: string) => void;
} {
  const net = new FakeNet(options);
  const server = net.add(
    SERVER,
    new ServerState({
      random: seededBytes(options.seed ?? 1),
      limits: options.limits,
    }),
  );
  const clients = new Map<string, ClientState>();
  const addrs = new Map<string, Address>();
  names.forEach((name, i) => {
    const addr = clientAddr(i);
    addrs.set(name, addr);
    const c = net.add(
      addr,
      new ClientState({ name, server: SERVER, random: seededBytes(100 + i) }),
    );
    clients.set(name, c);
    c.start(net.now);
    net.step();
    net.run(100);
  });
  return {
    net,
    server,
    clients,
    addr: (name) => addrs.get(name)!,
    type: (name, line) => {
      clients.get(name)!.command(line, net.now);
      net.step();
    },
  };
}
