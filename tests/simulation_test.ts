/**
 * The real server and client state machines on a seeded fake network that
 * loses 20%, duplicates 5% and delays/reorders up to 50 ms, with a fake
 * clock. Thousands of messages across many seeds: every message is shown
 * exactly once to each recipient, or saved and its sender told (then shown
 * once when the recipient comes back), never shown twice, never silently lost.
 */
import { assert, assertEquals } from "./_assert.ts";
import { chat } from "./_sim.ts";

const NAMES = ["ann", "bob", "cat", "dan", "eve"];
const SEEDS = 200;
const ROUNDS = 12;

interface Sent {
  text: string;
  from: string;
  to: string[];
  group: boolean;
}

function run(seed: number): { sent: number; shown: number; saved: number } {
  const { net, type, addr } = chat(NAMES, {
    loss: 0.2,
    duplicate: 0.05,
    jitter: 50,
    seed,
  });
  net.run(3000);
  const sent: Sent[] = [];
  let n = 0;
  const away = NAMES[seed % NAMES.length];
  for (let round = 0; round < ROUNDS; round++) {
    if (round === 4) type(away, `dereg ${away}`);
    if (round === 8) type(away, `reg ${away}`);
    for (const from of NAMES) {
      if ((round === 4 || round === 8) && from === away) continue;
      if (round >= 4 && round < 8 && from === away) continue;
      const text = `m-${seed}-${n++}`;
      if ((round + NAMES.indexOf(from)) % 4 === 0) {
        type(from, `send_all ${text}`);
        sent.push({
          text,
          from,
          to: NAMES.filter((x) => x !== from),
          group: true,
        });
      } else {
        const to = NAMES[(NAMES.indexOf(from) + 1 + round) % NAMES.length];
        type(from, `send ${to} ${text}`);
        sent.push({ text, from, to: [to], group: false });
      }
      net.run(7);
    }
    net.run(300);
  }
  // Everyone comes back so that every saved message is delivered.
  for (const name of NAMES) type(name, `reg ${name}`);
  net.run(20_000);
  for (const name of NAMES) type(name, `reg ${name}`);
  net.run(20_000);

  let shown = 0, saved = 0;
  for (const m of sent) {
    const sender = net.lines(addr(m.from));
    for (const to of m.to) {
      const lines = net.lines(addr(to));
      const live = lines.filter((l) =>
        l === (m.group
          ? `Group Chat ${m.from}: ${m.text}`
          : `${m.from}: ${m.text}`)
      ).length;
      const stored = lines.filter((l) =>
        new RegExp(
          `^${
            m.group ? "Group_Chat:" : ""
          }${m.from}: \\d\\d:\\d\\d:\\d\\d ${m.text}$`,
        ).test(l)
      ).length;
      assertEquals(
        live + stored,
        1,
        `seed ${seed}: ${m.text} to ${to} shown ${live}+${stored} times`,
      );
      shown++;
      if (stored === 1) {
        saved++;
      }
    }
    // The sender was told the truth.
    if (!m.group) {
      const received = sender.filter((l) =>
        l === `[Message received by ${m.to[0]}.]`
      ).length;
      assert(
        received <=
          sent.filter((x) =>
            x.from === m.from && !x.group && x.to[0] === m.to[0]
          ).length,
      );
    }
  }
  // Each sender's notices match what happened: every private message got
  // exactly one of "received" (only if really shown) and "saved"; every
  // message the server stored (saved or no-ACK) was later delivered and its
  // sender told so.
  for (const from of NAMES) {
    const lines = net.lines(addr(from));
    const mine = sent.filter((m) => m.from === from);
    const priv = mine.filter((m) => !m.group);
    const privLive = priv.filter((m) =>
      net.lines(addr(m.to[0])).includes(`${from}: ${m.text}`)
    ).length;
    const received = lines.filter((l) =>
      /^\[Message received by \w+\.\]$/.test(l)
    ).length;
    const savedPriv = lines.filter((l) =>
      /^\[Offline Message sent at \d{4}-\d\d-\d\d .* received by the server and saved\.\]$/
        .test(l)
    ).length;
    assert(
      received <= privLive,
      `seed ${seed}: ${from}: ${received} received notices, ${privLive} shown`,
    );
    assertEquals(
      received + savedPriv,
      priv.length,
      `seed ${seed}: ${from}: one notice per private message`,
    );
    const noAck = lines.filter((l) =>
      l.startsWith("[No ACK from ")
    ).length;
    const savedGroup = lines.filter((l) =>
      /^\[Offline Message sent at \d\d:\d\d:\d\d received by the server and saved\.\]$/
        .test(l)
    ).length;
    assertEquals(
      noAck,
      savedGroup,
      `seed ${seed}: ${from}: a saved notice per no-ACK`,
    );
    const delivered = lines.filter((l) =>
      /^\[Offline Message sent at \d\d:\d\d:\d\d received by \w+\]$/.test(l)
    ).length;
    assertEquals(
      delivered,
      noAck + savedPriv,
      `seed ${seed}: ${from}: every stored message delivered and told`,
    );
    assertEquals(
      lines.filter((l) =>
        l === "[Group Message received by Server.]"
      ).length,
      mine.length - priv.length,
    );
  }
  // In order: per sender and recipient, live private messages appear in send order.
  for (const to of NAMES) {
    const lines = net.lines(addr(to));
    for (const from of NAMES) {
      const seq = lines.filter((l) => l.startsWith(`${from}: m-`)).map((l) =>
        Number(l.split("-")[2])
      );
      assertEquals(
        seq,
        [...seq].sort((a, b) => a - b),
        `seed ${seed}: ${from} -> ${to} in order`,
      );
    }
  }
  assert(net.largest <= 1200, `largest datagram ${net.largest}`);
  return { sent: sent.length, shown, saved };
}

Deno.test("delivery under 20% loss, 5% duplication and 50 ms reordering: exactly once or saved and told", () => {
  let sent = 0, shown = 0, saved = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = run(seed);
    sent += r.sent;
    shown += r.shown;
    saved += r.saved;
  }
  assert(sent >= 1000, `${sent} messages sent`);
  assert(shown >= 2000, `${shown} deliveries checked`);
  // The dereg'd user makes some of them go through the offline store.
  assert(saved > 0);
});
