/**
 * A save over its sender's own hourly quota (issue 13's red-team pass): the
 * server answers `err quota` with the recipient and when the quota starts
 * again, not `full`; the sender's client says it is its own limit and until
 * when; a light sender is unaffected; a store that is really full still
 * answers `full`. The server core driven by hand (non-loopback hosts, for
 * the per-host quota) and the simulation with real client cores.
 */
import type { Address } from "../protocol/address.ts";
import { decodeMessage, encodeMessage } from "../protocol/codec.ts";
import type { Message } from "../protocol/messages.ts";
import { formatStamp } from "../protocol/time.ts";
import { SAVE_QUOTA_WINDOW_MS } from "../server/save_quota.ts";
import { ServerState } from "../server/state.ts";
import type { ServerLimits } from "../server/options.ts";
import { chat } from "./_sim.ts";
import { seededBytes } from "./_sim.ts";
import { assert, assertEquals } from "./_assert.ts";

/** The server core with senders played by hand. */
class Raw {
  server: ServerState;
  now = 1_700_000_000_000;
  #id = 0;
  #tokens = new Map<string, string>();

  constructor(limits: Partial<ServerLimits>) {
    this.server = new ServerState({ random: seededBytes(3), limits });
  }

  /** Sends one datagram from `from`; returns the answers to `from`. */
  send(from: Address, m: Message): Message[] {
    this.server.receiveDatagram(encodeMessage(m), from, this.now);
    const out: Message[] = [];
    for (const d of this.server.datagramsToSend()) {
      const r = decodeMessage(d.bytes);
      if (
        r.ok && d.to.hostname === from.hostname && d.to.port === from.port
      ) out.push(r.message);
    }
    return out;
  }

  /** Registers `name` at `from` (with the cookie round trip); its token. */
  register(name: string, from: Address): string {
    const retry = this.send(from, { t: "reg", id: ++this.#id, name })
      .find((m) => m.t === "retry");
    assert(retry?.t === "retry", `a retry for ${name}`);
    const welcome = this.send(from, {
      t: "reg",
      id: ++this.#id,
      name,
      ck: retry.ck,
    }).find((m) => m.t === "welcome");
    assert(welcome?.t === "welcome", `a welcome for ${name}`);
    this.#tokens.set(name, welcome.tok);
    return welcome.tok;
  }

  /** Registers `name` at `from` and deregisters it: an Offline user. */
  offline(name: string, from: Address): void {
    const tok = this.register(name, from);
    this.send(from, { t: "dereg", id: ++this.#id, name, tok });
  }

  /** `name` asks the server to save `text` for `to`; the answer. */
  save(name: string, from: Address, to: string, text = "hi"): Message {
    const id = ++this.#id;
    const answer = this.send(from, {
      t: "save",
      id,
      tok: this.#tokens.get(name)!,
      to,
      k: `k${id}`,
      pi: 0,
      pn: 1,
      text,
    }).find((m) => (m.t === "ack" || m.t === "err") && m.id === id);
    assert(answer !== undefined, `an answer to ${name}'s save`);
    return answer;
  }
}

const host = (n: number, port = 4000): Address => ({
  hostname: `198.51.100.${n}`,
  port,
});

Deno.test("ServerState: a save over the sender's quota is answered quota, with the recipient and when it starts again", () => {
  const raw = new Raw({ savesPerSender: 2 });
  raw.offline("userP1", host(1));
  raw.register("userQ", host(2));
  raw.register("userL", host(3));
  const start = raw.now;
  assertEquals(raw.save("userQ", host(2), "userP1").t, "ack");
  raw.now += 60_000;
  assertEquals(raw.save("userQ", host(2), "userP1").t, "ack");
  raw.now += 60_000;
  const refused = raw.save("userQ", host(2), "userP1");
  assert(refused.t === "err");
  assertEquals(refused, {
    t: "err",
    id: refused.id,
    code: "quota",
    name: "userP1",
    at: formatStamp(start + SAVE_QUOTA_WINDOW_MS),
  });
  assertEquals(raw.server.stats().dropped.quota, 1);
  // A light sender is unaffected, and so is the heavy one once its hour ends.
  assertEquals(raw.save("userL", host(3), "userP1").t, "ack");
  raw.now = start + SAVE_QUOTA_WINDOW_MS;
  assertEquals(raw.save("userQ", host(2), "userP1").t, "ack");
});

Deno.test("ServerState: a host over its quota is answered quota too, when the host's hour ends", () => {
  const raw = new Raw({ savesPerSender: 10, savesPerHost: 2 });
  raw.offline("box", host(1));
  for (const [i, name] of ["s0", "s1", "s2"].entries()) {
    raw.register(name, host(7, 4000 + i));
  }
  const start = raw.now;
  assertEquals(raw.save("s0", host(7, 4000), "box").t, "ack");
  raw.now += 1_000;
  assertEquals(raw.save("s1", host(7, 4001), "box").t, "ack");
  raw.now += 1_000;
  const refused = raw.save("s2", host(7, 4002), "box");
  assert(refused.t === "err");
  assertEquals(
    [refused.code, refused.name, refused.at],
    ["quota", "box", formatStamp(start + SAVE_QUOTA_WINDOW_MS)],
  );
  // Another host's sender is not charged for it.
  raw.register("other", host(8));
  assertEquals(raw.save("other", host(8), "box").t, "ack");
});

Deno.test("ServerState: a store that is really full still answers full", () => {
  const raw = new Raw({ perUser: 1 });
  raw.offline("box", host(1));
  raw.register("userL", host(3));
  assertEquals(raw.save("userL", host(3), "box").t, "ack");
  const refused = raw.save("userL", host(3), "box");
  assert(refused.t === "err");
  assertEquals([refused.code, refused.name, refused.at], [
    "full",
    "box",
    undefined,
  ]);
});

Deno.test("simulation: the heavy sender is told it reached its own limit and until when; a light sender's save is taken", () => {
  const { net, server, type, addr } = chat(
    ["userQ", "userP1", "userP2", "userL"],
    { limits: { savesPerSender: 3 } },
  );
  type("userP1", "dereg userP1");
  type("userP2", "dereg userP2");
  net.run(1_000);
  for (let i = 0; i < 3; i++) {
    type("userQ", `send userP${1 + (i % 2)} message ${i}`);
    net.run(1_000);
  }
  const saved = net.lines(addr("userQ")).filter((l) =>
    l.startsWith("[Offline Message sent at ")
  );
  assertEquals(saved.length, 3, net.lines(addr("userQ")).join("\n"));
  // The quota's hour runs from the first save: its stamp, plus an hour.
  const first = /sent at (\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+) /.exec(saved[0]);
  assert(first !== null);
  const [y, mo, d, h, mi, s] = first.slice(1).map(Number);
  const until = formatStamp(
    new Date(y, mo - 1, d, h, mi, s).getTime() + SAVE_QUOTA_WINDOW_MS,
  );
  type("userQ", "send userP2 one too many");
  net.run(1_000);
  const lines = net.lines(addr("userQ"));
  assert(
    lines.includes(
      `[Message to userP2 not saved: you have reached your hourly limit of saved messages; try again after ${
        until.slice(11)
      }.]`,
    ),
    lines.join("\n"),
  );
  assert(!lines.some((l) => l.startsWith("[Server is full")), lines.join("\n"));
  const refused = net.events(addr("userQ")).find((e) => e.event === "refused");
  assertEquals(refused?.data, { to: "userP2", why: "quota", until });
  // A light sender's save is taken all the same.
  type("userL", "send userP2 hello");
  net.run(1_000);
  assert(
    net.lines(addr("userL")).some((l) =>
      /^\[Offline Message sent at .* received by the server and saved\.\]$/
        .test(l)
    ),
    net.lines(addr("userL")).join("\n"),
  );
  assertEquals(server.stats().dropped.quota, 1);
  assertEquals(server.stats().offlineMessages, 4);
});
