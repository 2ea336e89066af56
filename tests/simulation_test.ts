/**
 * Delivery that survives a bad network: the real server and client state
 * machines on a seeded fake network that loses 20%, duplicates 5% and delays
 * (so reorders) up to 50 ms, with a fake clock. Many seeds, thousands of
 * `send` and `send_all` messages, a client that deregisters and comes back,
 * and a client that is killed mid-run and restarted on another port.
 *
 * Every message has a unique text and is followed to its end:
 * - each intended recipient shows it exactly once (live, or from its offline
 *   list after `reg`), and nobody else shows it;
 * - its sender gets exactly one final notice, and every notice is true: a
 *   `[Message received by X.]` only if X showed it, a saved / no-ACK notice
 *   only if the server stored it, and then X shows it once and the sender is
 *   told `[Offline Message sent at ... received by X]`; anything X showed from
 *   its offline list was reported saved to the sender;
 * - per sender and recipient, messages are shown in send order on each path
 *   (peer to peer, relayed by the server, group).
 *
 * Notices carry no message text, so each client is wrapped in a tap that
 * tags every line with the key of the datagram that caused it (a `note`'s
 * `ref`, an `ack`'s request).
 */
import { ClientState } from "./_client.ts";
import { type Address, sameAddress } from "../protocol/address.ts";
import { decodeMessage } from "../protocol/codec.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { ServerState } from "../server/state.ts";
import { assert, assertEquals } from "./_assert.ts";
import {
  chat,
  clientAddr,
  FakeNet,
  type Node,
  seededBytes,
  SERVER,
} from "./_sim.ts";

const NAMES = ["ann", "bob", "cat", "dan", "eve"];
const SEEDS = 1000;
const ROUNDS = 12;
/** The away user deregisters at the start of this round ... */
const DEREG_ROUND = 4;
/** ... and registers again at the start of this one. */
const REG_ROUND = 8;
/** The killed user's new process starts at the start of this round. */
const RESTART_ROUND = 10;

/** One printed line, tagged with what caused it. */
interface Line {
  text: string;
  event: string;
  /** The message key of the datagram that caused it, if any. */
  k?: string;
  /** Caused by a datagram from a peer (not the server). */
  peer: boolean;
  /** Global order of printing, across all clients. */
  seq: number;
}

let printed = 0;

/** A client state machine whose every line is logged with its cause. */
class Tap implements Node {
  readonly lines: Line[] = [];
  /** Message text → key, for the messages this client sent. */
  readonly keyOf = new Map<string, string>();
  /** Keys of the offline-list entries that reached this client. */
  readonly offlineKeys = new Set<string>();
  #keys = new Map<number, string>();
  #ready: OutputEvent[] = [];

  constructor(
    readonly name: string,
    readonly addr: Address,
    readonly state: ClientState,
  ) {}

  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.state.receiveDatagram(bytes, from, now);
    const d = decodeMessage(bytes);
    let k: string | undefined;
    if (d.ok) {
      const m = d.message;
      if (m.t === "note") k = m.ref;
      else if (m.t === "ack") k = this.#keys.get(m.id);
      else if (m.t === "msg") k = m.k;
      if (m.t === "msg" && m.o !== undefined) this.offlineKeys.add(m.k);
    }
    this.#take(k, !sameAddress(from, SERVER));
  }

  handleTimer(now: number): void {
    this.state.handleTimer(now);
    this.#take(undefined, false);
  }

  getTimer(): number | undefined {
    return this.state.getTimer();
  }

  datagramsToSend(): Datagram[] {
    const out = this.state.datagramsToSend();
    for (const d of out) {
      const r = decodeMessage(d.bytes);
      if (!r.ok) continue;
      const m = r.message;
      if (m.t === "msg" || m.t === "save" || m.t === "all") {
        this.#keys.set(m.id, m.k);
        if (m.t !== "msg" || m.from === this.name) this.keyOf.set(m.text, m.k);
      }
    }
    return out;
  }

  events(): OutputEvent[] {
    this.#take(undefined, false);
    return this.#ready.splice(0);
  }

  #take(k: string | undefined, peer: boolean): void {
    for (const e of this.state.events()) {
      this.lines.push({
        text: e.text,
        event: e.event,
        k,
        peer,
        seq: printed++,
      });
      this.#ready.push(e);
    }
  }
}

/** A message as sent, and where it must end up. */
interface Sent {
  text: string;
  n: number;
  from: string;
  /** The client process that sent it. */
  by: Tap;
  to: string[];
  group: boolean;
}

/** One showing of a message by a recipient. */
interface Shown {
  by: Tap;
  from: string;
  group: boolean;
  /** "p2p", "relay" (private, by the server), "group" or "offline". */
  path: "p2p" | "relay" | "group" | "offline";
  seq: number;
}

const LIVE = /^(\S+): (\S+)$/;
const GROUP = /^Group Chat (\S+): (\S+)$/;
const OFFLINE = /^(Group_Chat:)?(\S+): \d\d:\d\d:\d\d (\S+)$/;
/** The lines that tell a sender what became of its message. */
const NOTICES = new Set([
  "received",
  "saved",
  "no_ack",
  "delivered_offline",
  "group_ack",
]);
const SAVED_LONG =
  /^\[Offline Message sent at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d received by the server and saved\.\]$/;
const SAVED_SHORT =
  /^\[Offline Message sent at \d\d:\d\d:\d\d received by the server and saved\.\]$/;
const DELIVERED =
  /^\[Offline Message sent at \d\d:\d\d:\d\d received by (\S+)\]$/;

interface Totals {
  sent: number;
  deliveries: number;
  offline: number;
  noAck: number;
  relayed: number;
}

function run(seed: number): Totals {
  const net = new FakeNet({ loss: 0.2, duplicate: 0.05, jitter: 50, seed });
  const server = net.add(
    SERVER,
    new ServerState({ random: seededBytes(seed) }),
  );
  const taps = new Map<string, Tap>();
  const all: Tap[] = [];
  const spawn = (name: string, addr: Address, random: number): Tap => {
    const tap = new Tap(
      name,
      addr,
      new ClientState({ name, server: SERVER, random: seededBytes(random) }),
    );
    net.add(addr, tap);
    taps.set(name, tap);
    all.push(tap);
    tap.state.start(net.now);
    net.step();
    return tap;
  };
  const type = (name: string, line: string) => {
    taps.get(name)!.state.command(line, net.now);
    net.step();
  };
  NAMES.forEach((name, i) => {
    spawn(name, clientAddr(i), seed * 100 + i);
    net.run(100);
  });
  net.run(3000);

  const away = NAMES[seed % NAMES.length];
  const dead = NAMES[(seed + 2) % NAMES.length];
  const deadRound = 5 + seed % 3;
  const deadAt = seed % NAMES.length;
  const killed = taps.get(dead)!;
  const sent: Sent[] = [];
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round === DEREG_ROUND) type(away, `dereg ${away}`);
    if (round === REG_ROUND) type(away, `reg ${away}`);
    if (round === RESTART_ROUND) {
      // The killed client is started again, on another port, with a new session.
      spawn(dead, clientAddr(10 + NAMES.indexOf(dead)), seed * 100 + 50);
    }
    const awayOff = round >= DEREG_ROUND && round <= REG_ROUND;
    const deadOff = round >= deadRound && round < RESTART_ROUND;
    for (const [i, from] of NAMES.entries()) {
      if (round === deadRound && i === deadAt) {
        // Killed without a word: datagrams to it are lost from now on.
        net.remove(killed.addr);
      }
      if ((from === away && awayOff) || (from === dead && deadOff)) continue;
      const text = `m-${seed}-${n}`;
      const by = taps.get(from)!;
      if ((round + i) % 4 === 0) {
        type(from, `send_all ${text}`);
        const to = NAMES.filter((x) => x !== from);
        sent.push({ text, n, from, by, to, group: true });
      } else {
        // Now and then to oneself, which works like sending to anyone.
        const to = (round * 3 + i) % 11 === 5
          ? from
          : NAMES[(i + 1 + round) % NAMES.length];
        type(from, `send ${to} ${text}`);
        sent.push({ text, n, from, by, to: [to], group: false });
      }
      n++;
      net.run(7);
    }
    if (round === 2 || round === ROUNDS - 1) {
      // A burst, typed at once: they queue, and must keep their order.
      const from = NAMES[(seed + 1) % NAMES.length];
      const peer = NAMES[(seed + 3) % NAMES.length];
      for (let b = 0; b < 6; b++) {
        const text = `m-${seed}-${n}`;
        const by = taps.get(from)!;
        if (b % 2 === 0) {
          type(from, `send_all ${text}`);
          const to = NAMES.filter((x) => x !== from);
          sent.push({ text, n, from, by, to, group: true });
        } else {
          type(from, `send ${peer} ${text}`);
          sent.push({ text, n, from, by, to: [peer], group: false });
        }
        n++;
      }
    }
    net.run(300);
  }

  // Everyone registers again until the server has delivered everything it
  // stored (a delivery that is not ACKed in time is stored again).
  for (let tries = 0; tries < 6; tries++) {
    for (const name of NAMES) type(name, `reg ${name}`);
    net.run(15_000);
    if (server.stats().offlineMessages === 0) break;
  }
  // Notices have 5 s to arrive.
  net.run(10_000);
  assertEquals(server.stats().offlineMessages, 0, `seed ${seed}: store empty`);

  // Every showing of a message, by text.
  const shows = new Map<string, Shown[]>();
  for (const by of all) {
    for (const l of by.lines) {
      let m: RegExpExecArray | null;
      let s: Omit<Shown, "by" | "seq"> & { text: string } | undefined;
      if (l.event === "message" && (m = LIVE.exec(l.text))) {
        s = {
          from: m[1],
          text: m[2],
          group: false,
          path: l.peer ? "p2p" : "relay",
        };
      } else if (l.event === "group_message" && (m = GROUP.exec(l.text))) {
        s = { from: m[1], text: m[2], group: true, path: "group" };
      } else if (l.event === "offline_message" && (m = OFFLINE.exec(l.text))) {
        s = {
          from: m[2],
          text: m[3],
          group: m[1] !== undefined,
          path: "offline",
        };
      } else if (/^(Group Chat |Group_Chat:)?\S+: .*m-/.test(l.text)) {
        throw new Error(`seed ${seed}: unexpected line ${l.event} ${l.text}`);
      }
      if (s === undefined) continue;
      const list = shows.get(s.text) ?? [];
      list.push({ by, from: s.from, group: s.group, path: s.path, seq: l.seq });
      shows.set(s.text, list);
    }
  }
  const totals: Totals = {
    sent: sent.length,
    deliveries: 0,
    offline: 0,
    noAck: 0,
    relayed: 0,
  };
  for (const m of sent) {
    const where = `seed ${seed}: ${m.text} ${m.from} -> ${m.to.join(",")}`;
    const k = m.by.keyOf.get(m.text);
    // The killed process may die before a message leaves it, or before it
    // hears what became of it; every other sender lives to the end.
    const senderDied = m.by === killed;
    // The notices about it, per process of its sender. (The killed process
    // may have shown a notice whose ACK died with it: the new process then
    // gets it again. Each process shows it at most once.)
    const noticesBy = all.filter((t) => t.name === m.from).map((t) =>
      t.lines.filter((l) =>
        k !== undefined && l.k === k && NOTICES.has(l.event)
      )
    );
    const mine = noticesBy.flat();
    const count = (re: RegExp | string): Line[] => {
      const match = (l: Line) =>
        typeof re === "string" ? l.text === re : re.test(l.text);
      if (!senderDied) return mine.filter(match);
      return noticesBy.map((ls) => ls.filter(match)).reduce((a, b) =>
        b.length > a.length ? b : a
      );
    };
    const seen = shows.get(m.text) ?? [];
    for (const s of seen) {
      assert(m.to.includes(s.by.name), `${where}: shown by ${s.by.name}`);
      assertEquals([s.from, s.group], [m.from, m.group], `${where}: as sent`);
    }
    if (k === undefined) {
      assert(senderDied, `${where}: never sent`);
      assertEquals(seen.length, 0, `${where}: shown but never sent`);
      continue;
    }

    let final: number;
    if (m.group) {
      final = count("[Group Message received by Server.]").length;
    } else {
      final = count(`[Message received by ${m.to[0]}.]`).length +
        count(SAVED_LONG).length;
    }
    if (senderDied) assert(final <= 1, `${where}: ${final} final notices`);
    else assertEquals(final, 1, `${where}: one final notice`);
    // The server took responsibility for it: then it must arrive.
    const accepted = final === 1 || seen.length > 0 || mine.length > 0;

    for (const to of m.to) {
      const got = seen.filter((s) => s.by.name === to);
      const offline = got.filter((s) => s.path === "offline");
      const noAck = count(`[No ACK from ${to}, message not delivered.]`);
      const told = m.group ? noAck.length : count(SAVED_LONG).length;
      const delivered = count(
        new RegExp(DELIVERED.source.replace("(\\S+)", to)),
      );
      assert(noAck.length <= 1, `${where}: ${noAck.length} no-ACK for ${to}`);
      assert(delivered.length <= 1, `${where}: ${delivered.length} dlv ${to}`);
      // An offline-list entry is ACKed on arrival but shown only once the
      // entries before it are in: the killed process may have died holding it.
      const held = to === dead && got.length === 0 &&
        killed.offlineKeys.has(k);
      if (to === dead && got.length === 2) {
        // Shown by the killed process just before it died, its ACK lost with
        // it: the server, which never heard of it, gives it to the new
        // process too. Nothing else may show a message twice.
        assert(
          got[0].by === killed && got[1].by !== killed,
          `${where}: shown twice by ${to}`,
        );
      } else if (accepted && !held) {
        assertEquals(got.length, 1, `${where}: shown ${got.length}x by ${to}`);
      } else {
        assert(got.length <= 1, `${where}: shown ${got.length}x by ${to}`);
      }
      totals.deliveries += got.length;
      totals.offline += offline.length;
      totals.relayed += got.filter((s) => s.path === "relay").length;
      totals.noAck += noAck.length;
      // What came from the offline list was stored, and the sender told so
      // (unless the answer went to the killed process).
      if (offline.length > 0 && !senderDied) {
        assertEquals(told, 1, `${where}: ${to} had it stored, sender not told`);
      }
      if (told === 1) {
        const at = m.group ? noAck[0] : count(SAVED_LONG)[0];
        if (m.group) {
          // Each no-ACK line is followed by its saved notice.
          const lines = all.find((t) => t.lines.includes(at))!.lines;
          const i = lines.indexOf(at);
          assert(SAVED_SHORT.test(lines[i + 1]?.text), where);
        }
        // Stored, so delivered when it came back, and the sender told.
        if (!senderDied) {
          assertEquals(delivered.length, 1, `${where}: dlv from ${to}`);
        }
        assert(
          got.length >= 1 || held,
          `${where}: stored but never shown by ${to}`,
        );
      }
      if (delivered.length === 1) {
        // (An offline-list entry is ACKed on arrival and shown once the
        // entries before it are in, so this may come a moment before it is
        // shown. The saved notice may have gone to the killed process.)
        if (!senderDied) {
          assertEquals(told, 1, `${where}: dlv without a saved notice`);
        }
        assert(
          got.length >= 1 || held,
          `${where}: dlv but never shown by ${to}`,
        );
      }
      if (!m.group) {
        const rcv = count(`[Message received by ${to}.]`);
        if (rcv.length === 1) {
          assert(
            got.some((s) => s.path !== "offline" && s.seq < rcv[0].seq),
            `${where}: received by ${to}, who never showed it`,
          );
        }
      }
    }
    if (m.group) {
      for (const ls of noticesBy) {
        assertEquals(
          ls.filter((l) => SAVED_SHORT.test(l.text)).length,
          ls.filter((l) => l.event === "no_ack").length,
          `${where}: a saved notice per no-ACK`,
        );
      }
    }
  }

  // No line the tests cannot account for: every notice is about a message sent.
  const keys = new Set(all.flatMap((t) => [...t.keyOf.values()]));
  for (const t of all) {
    for (const l of t.lines) {
      if (l.event === "received" && l.k === undefined) {
        throw new Error(`seed ${seed}: ${t.name}: untagged ${l.text}`);
      }
      if (NOTICES.has(l.event)) {
        assert(l.k !== undefined && keys.has(l.k), `seed ${seed}: ${l.text}`);
      }
    }
  }

  // In order, per sender, recipient process and path.
  for (const t of all) {
    for (const from of NAMES) {
      for (const path of ["p2p", "relay", "group"] as const) {
        const order: [seq: number, n: number][] = [];
        for (const [text, list] of shows) {
          for (const s of list) {
            if (s.by === t && s.from === from && s.path === path) {
              order.push([s.seq, Number(text.split("-")[2])]);
            }
          }
        }
        const ns = order.sort((a, b) => a[0] - b[0]).map(([, n]) => n);
        assertEquals(
          ns,
          [...ns].sort((a, b) => a - b),
          `seed ${seed}: ${from} -> ${t.name} (${path}) out of order`,
        );
      }
    }
  }

  assert(net.largest <= 1200, `seed ${seed}: largest datagram ${net.largest}`);
  return totals;
}

Deno.test("under 20% loss, 5% duplication and 50 ms reordering every message is shown exactly once, or saved, told and shown after reg", () => {
  const totals: Totals = {
    sent: 0,
    deliveries: 0,
    offline: 0,
    noAck: 0,
    relayed: 0,
  };
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = run(seed);
    for (const key of Object.keys(totals) as (keyof Totals)[]) {
      totals[key] += r[key];
    }
  }
  // Thousands of messages, and every path taken.
  assert(totals.sent >= 5_000, `${totals.sent} messages sent`);
  assert(totals.deliveries >= 10_000, `${totals.deliveries} deliveries`);
  assert(totals.offline > 0 && totals.noAck > 0 && totals.relayed > 0);
});

// Cases the loss simulation found, replayed deterministically.

/** Drops the datagrams from the server to `to` for which `drop` holds. */
function dropFromServer(
  to: Address,
  drop: (m: ReturnType<typeof decodeMessage>) => boolean,
): (d: { from: Address; to: Address; bytes: Uint8Array }) => boolean {
  return (d) =>
    sameAddress(d.from, SERVER) && sameAddress(d.to, to) &&
    drop(decodeMessage(d.bytes));
}

function isEntry(r: ReturnType<typeof decodeMessage>, o?: number): boolean {
  return r.ok && r.message.t === "msg" && r.message.o !== undefined &&
    (o === undefined || r.message.o === o);
}

Deno.test("a reg typed while the offline list is arriving loses none of it", () => {
  const { net, type, addr } = chat(["ann", "bob"]);
  type("bob", "dereg bob");
  net.run(100);
  for (const t of ["one", "two", "three"]) type("ann", `send bob ${t}`);
  net.run(100);
  // The first entry is held up; the others arrive and wait for it.
  net.filter = dropFromServer(addr("bob"), (r) => isEntry(r, 1));
  type("bob", "reg bob");
  net.run(50);
  // A second reg while Online: the server goes on with the same list.
  type("bob", "reg bob");
  net.run(50);
  net.filter = undefined;
  net.run(3000);
  const shown = net.lines(addr("bob")).filter((l) =>
    /^ann: \d\d:\d\d:\d\d /.test(l)
  ).map((l) => l.split(" ").pop());
  assertEquals(shown, ["one", "two", "three"]);
  assertEquals(
    net.lines(addr("ann")).filter((l) => l.endsWith(" received by bob]"))
      .length,
    3,
  );
});

Deno.test("a late copy from an earlier offline list is shown once, and its sender told once", () => {
  // bob registers (list 1: entries 1, 2), deregisters and registers again
  // (list 2: entries 3, 4) while list 1 is held up; then the copies of the
  // two lists arrive in either order, the new list perhaps only after its
  // window, or list 1 while another reg is under way.
  const cases = [
    { name: "old first", hold: 150, late: "old" },
    { name: "old first, new after its window", hold: 700, late: "old" },
    { name: "new first", hold: 150, late: "new" },
    { name: "old during a reg", hold: 150, late: "reg" },
  ] as const;
  for (const c of cases) {
    const { net, type, addr } = chat(["ann", "bob"]);
    type("bob", "dereg bob");
    net.run(100);
    for (const t of ["one", "two"]) type("ann", `send bob ${t}`);
    net.run(100);
    let phase: "hold" | "late" | "open" = "hold";
    net.filter = dropFromServer(addr("bob"), (r) => {
      if (phase === "open" || !r.ok) return false;
      const m = r.message;
      if (c.late === "reg" && phase === "late" && m.t === "welcome") {
        return true;
      }
      if (m.t !== "msg" || m.o === undefined) return false;
      if (phase === "hold") return true;
      return c.late === "new" ? m.o < 3 : m.o >= 3;
    });
    type("bob", "reg bob");
    net.run(5);
    type("bob", "dereg bob");
    net.run(5);
    type("bob", "reg bob");
    net.run(5);
    phase = "late";
    if (c.late === "reg") type("bob", "reg bob");
    net.run(c.hold);
    phase = "open";
    net.run(5000);
    const shown = net.lines(addr("bob")).filter((l) =>
      /^ann: \d\d:\d\d:\d\d /.test(l)
    ).map((l) => l.split(" ").pop());
    assertEquals(shown.toSorted(), ["one", "two"], c.name);
    assertEquals(
      net.lines(addr("ann")).filter((l) => l.endsWith(" received by bob]"))
        .length,
      2,
      c.name,
    );
  }
});

Deno.test("a notice whose every copy is lost for longer than its window is sent again", () => {
  const { net, type, addr } = chat(["ann", "bob", "cat"]);
  type("cat", "dereg cat");
  net.run(100);
  net.filter = dropFromServer(
    addr("ann"),
    (r) => r.ok && r.message.t === "note",
  );
  type("ann", "send_all hello");
  net.run(6_000);
  assertEquals(
    net.lines(addr("ann")).filter((l) => l.startsWith("[No ACK from ")),
    [],
  );
  net.filter = undefined;
  net.run(10_000);
  assertEquals(
    net.lines(addr("ann")).filter((l) => l.startsWith("[No ACK from ")),
    ["[No ACK from cat, message not delivered.]"],
  );
});

Deno.test("a notice to a sender who deregistered meanwhile is kept for its return", () => {
  const { net, type, addr } = chat(["ann", "bob", "cat"]);
  type("cat", "dereg cat");
  net.run(100);
  net.filter = dropFromServer(
    addr("ann"),
    (r) => r.ok && r.message.t === "note",
  );
  type("ann", "send_all hello");
  net.run(100);
  type("ann", "dereg ann");
  net.run(100);
  net.filter = undefined;
  net.run(6_000);
  type("ann", "reg ann");
  net.run(3_000);
  assertEquals(
    net.lines(addr("ann")).filter((l) => l.startsWith("[No ACK from ")),
    ["[No ACK from cat, message not delivered.]"],
  );
});

Deno.test("a notice kept for its sender's return is not shown twice when its ACKs were lost", () => {
  const { net, type, addr } = chat(["ann", "bob", "cat"]);
  type("cat", "dereg cat");
  net.run(100);
  // ann gets the notice, but the server never hears that it did.
  net.filter = (d) => {
    if (!sameAddress(d.from, addr("ann")) || !sameAddress(d.to, SERVER)) {
      return false;
    }
    const r = decodeMessage(d.bytes);
    return r.ok && r.message.t === "ack";
  };
  type("ann", "send_all hello");
  net.run(300);
  const noAck = () =>
    net.lines(addr("ann")).filter((l) => l.startsWith("[No ACK from "));
  assertEquals(noAck().length, 1);
  type("ann", "dereg ann");
  net.run(100);
  net.filter = undefined;
  net.run(6_000);
  // Back: the server sends what it kept, and ann recognises it.
  type("ann", "reg ann");
  net.run(3_000);
  assertEquals(noAck(), ["[No ACK from cat, message not delivered.]"]);
});
