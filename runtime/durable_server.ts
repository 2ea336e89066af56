/**
 * A server node whose state lives on NATS JetStream (`--store nats://...`):
 * the offline store (runtime/nats_store.ts) and the cluster of nodes that
 * share it (runtime/cluster_link.ts, runtime/cluster_node.ts). A lone node is
 * a cluster of one: it leads at once. Loaded by dynamic `import()` only when
 * `--store nats://` is given.
 *
 * @module
 */
import type { ServerConsoleEvent } from "../protocol/server_lines.ts";
import type { ServerEvent } from "../server/events.ts";
import { ServerState } from "../server/state.ts";
import type { ServerLimits } from "../server/options.ts";
import { DEFAULT_SERVER_LIMITS } from "../server/options.ts";
import { ClusterLink } from "./cluster_link.ts";
import { ClusterNode } from "./cluster_node.ts";
import { type NatsStore, openNatsStore, parseNatsUrls } from "./nats_store.ts";
import { EffectBridge } from "./effect_bridge.ts";
import type {
  RestoredState,
  StoreRequest,
  StoreResult,
} from "../server/store.ts";
import type { ChatIdentity } from "../server/chat_identity.ts";
import { takeLeaderTerm } from "./chat_term.ts";
import type { UdpDriver } from "./udp_driver.ts";
import { NatsUserRecords } from "./nats_users.ts";
import type {
  UserRecord,
  UserRecordRequest,
  UserRecordResult,
} from "../server/user_records.ts";

/** How long a leader that could not read the store waits to try again, in ms. */
const LOAD_RETRY_MS = 1_000;

// What a new leader restores, and its term of the chat.
interface LeaderState extends RestoredState {
  chat: ChatIdentity;
  users: UserRecord[];
}

/** Options of {@linkcode DurableServer.open}. */
export interface DurableServerOptions {
  /** `nats://HOST:PORT[,nats://HOST:PORT...]`. */
  store: string;
  /** This node's id (a NATS subject token). */
  nodeId: string;
  /** Limit overrides. */
  limits?: Partial<ServerLimits>;
  /** Random bytes for the core. */
  random: (length: number) => Uint8Array;
  /** Prints a line on this node's console. */
  print: (event: ServerEvent | ServerConsoleEvent) => void;
}

/** One node of a NATS-backed chat. */
export class DurableServer {
  /** The machine the UDP driver runs. */
  readonly node: ClusterNode;
  #store: NatsStore;
  #link: ClusterLink;
  #options: DurableServerOptions;
  #bridge: EffectBridge<StoreRequest, StoreResult> | undefined;
  #users: NatsUserRecords;
  #usersBridge:
    | EffectBridge<UserRecordRequest, UserRecordResult>
    | undefined;
  #driver: UdpDriver<ServerEvent> | undefined;
  #stopStatus: (() => void) | undefined;
  #term = 0;
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(
    store: NatsStore,
    link: ClusterLink,
    options: DurableServerOptions,
  ) {
    this.#store = store;
    this.#link = link;
    this.#options = options;
    this.#users = new NatsUserRecords(store);
    this.node = new ClusterNode(link);
  }

  /**
   * Connects to NATS: the offline store and the cluster link.
   *
   * @throws when NATS cannot be reached or JetStream is not enabled, with a
   * message a person can act on.
   */
  static async open(options: DurableServerOptions): Promise<DurableServer> {
    const urls = parseNatsUrls(options.store);
    // Three or more NATS servers: a cluster, whose JetStream keeps three
    // copies (R3) of the stream and the lease, so it survives losing one.
    const replicas = urls.length >= 3 ? 3 : 1;
    const store = await openNatsStore(urls, {
      limits: { ...DEFAULT_SERVER_LIMITS, ...options.limits },
      replicas,
    });
    // What the store read when it opened may be stale by the time this node
    // leads (another node saves meanwhile): every lead reads the stream anew.
    await store.loadAll();
    try {
      const link = await ClusterLink.open(urls, {
        nodeId: options.nodeId,
        replicas,
      });
      return new DurableServer(store, link, options);
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /**
   * Joins the cluster with the driver that runs {@linkcode node}: competes
   * for the lead (a lone node leads before this returns) and reports the
   * store's connection on the console.
   */
  async start(driver: UdpDriver<ServerEvent>): Promise<void> {
    this.#driver = driver;
    const { print } = this.#options;
    const step = () => driver.step();
    const ready = Promise.withResolvers<void>();
    await this.#link.start({
      leadership: async (leader) => {
        await this.#lead(leader);
        ready.resolve();
      },
      forwarded: (d) => {
        this.node.receiveForwarded(d.bytes, {
          from: d.from,
          node: d.node,
          now: driver.now(),
        });
        step();
      },
      send: (d) => {
        this.node.sendForLeader(d);
        step();
      },
      event: (e) => {
        this.node.showEvent(e as ServerEvent);
        step();
      },
    });
    if (this.#link.leader) await ready.promise;
    else {print({
        type: "cluster_node",
        node: this.#link.nodeId,
        role: "following",
      });}
    let lost = false;
    this.#stopStatus = this.#store.onStatus((status) => {
      if (status === "disconnected" && !lost) {
        lost = true;
        print({ type: "store_unavailable" });
      } else if (status !== "disconnected" && lost) {
        lost = false;
        print({ type: "store_available" });
      }
    });
  }

  /** Sends the core's store requests (call after every driver step). */
  pump(): void {
    this.#bridge?.pump();
    this.#usersBridge?.pump();
  }

  /** Prints this node's stats: the core's when it leads. */
  showStats(): void {
    const core = this.node.core;
    if (core !== undefined) {
      return this.#options.print({ type: "stats", stats: core.stats() });
    }
    this.#options.print({
      type: "node_stats",
      node: this.#link.nodeId,
      ...this.node.stats,
    });
  }

  /** Leaves the cluster and closes the connections. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#stopStatus?.();
    await this.#bridge?.settled();
    await this.#usersBridge?.settled();
    await this.#link.close();
    await this.#store.close();
  }

  // Takes the lead with a fresh core and what the store kept, or follows.
  async #lead(leader: boolean): Promise<void> {
    const term = ++this.#term;
    const { print, random, limits } = this.#options;
    const node = this.#link.nodeId;
    if (!leader) {
      this.node.setCore(undefined);
      this.#bridge = undefined;
      this.#usersBridge = undefined;
      print({ type: "cluster_node", node, role: "following" });
      return;
    }
    // A leader that could not read what the last one left would forget
    // users, claimed names (anyone could take them) and stored messages:
    // it serves nobody, says so, and tries again while it leads.
    let state: LeaderState | undefined;
    for (let attempt = 0; state === undefined; attempt++) {
      state = await this.#loadState();
      if (term !== this.#term || this.#closed) return; // lost the lead
      if (state !== undefined) break;
      if (attempt === 0) print({ type: "cluster_node", node, role: "loading" });
      await this.#pause(LOAD_RETRY_MS);
      if (term !== this.#term || this.#closed) return;
    }
    const { chat, messages, users } = state;
    // The chat's boot id and transit key, with this leader's term: clients
    // keep their sessions across the change of leader (chat_identity.ts).
    const core = new ServerState({ random, limits, store: "external", chat });
    const driver = this.#driver!;
    const sessions = core.restore(state, driver.now());
    // Where each session restored was reached: its node, until it sends.
    this.node.restoreIngress(users, driver.now());
    const clock = { now: () => driver.now(), step: () => driver.step() };
    // A user's record writes apply in the order made (put, Offline, delete).
    this.#usersBridge = new EffectBridge(
      {
        take: () => core.userRecordRequests(),
        handle: (r: UserRecordResult, now) =>
          core.handleUserRecordResult(r, now),
      },
      // A record says which node its client talks through (a hint for
      // the next leader, runtime/cluster_node.ts).
      (request) =>
        this.#users.apply(
          request.op === "put"
            ? { ...request, record: this.node.withNode(request.record) }
            : request,
        ),
      {
        ...clock,
        orderBy: (q) => q.op === "put" ? q.record.name : q.name,
      },
    );
    this.#bridge = new EffectBridge(
      {
        take: () => core.storeRequests(),
        handle: (r: StoreResult, now) => core.handleStoreResult(r, now),
      },
      (request) => this.#store.apply(request),
      clock,
    );
    this.node.setCore(core);
    print({
      type: "cluster_node",
      node,
      role: "leading",
      restored: messages.length,
      sessions,
      inFlight: state.journal.length,
    });
    driver.step();
  }

  // Everything a new leader restores, with its term of the chat, or
  // undefined when the store could not be read (each load already retries
  // inside runtime/nats_store.ts).
  async #loadState(): Promise<LeaderState | undefined> {
    try {
      const messages = await this.#store.loadAll();
      // Group messages a dead leader was fanning out (server/journal.ts).
      const journal = await this.#store.loadJournal();
      // Users and claimed names, as the last leader left them (issues 10, 14).
      const users = await this.#users.loadAll();
      // The term last, once everything loaded: a failed load uses none.
      const chat = await takeLeaderTerm(this.#store, {
        random: this.#options.random,
      });
      return { chat, messages, journal, users };
    } catch {
      return undefined;
    }
  }

  // Waits `ms` before the next try, or less if the node is closed.
  #pause(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, ms);
    this.#wake = () => {
      clearTimeout(timer);
      resolve();
    };
    return promise.finally(() => (this.#wake = undefined));
  }
}
