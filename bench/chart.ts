/**
 * Renders docs/bench_growth.svg from docs/bench_results.json: how the rooms
 * grow with the number of users N (100, 1,000, 10,000): on the left the time
 * of a registration storm and of a `send_all` fan-out, with their floors (the
 * same number of round trips at the C echo server's rate, same generator) and
 * the targets; on the right the server's datagrams per user in the storm and
 * its RSS per user, flat when the cost is O(N) in all (O(N²) would climb ten
 * times per decade). Dev-only (vega and vega-lite from npm, rendered
 * headlessly to SVG), run by `deno task bench:chart`.
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";

const ROOT = new URL("..", import.meta.url).pathname;
const results = JSON.parse(
  Deno.readTextFileSync(`${ROOT}docs/bench_results.json`),
);

interface RoomResult {
  n: number;
  stormMs: number | null;
  fanoutMs: number | null;
  datagramsPerUser: number;
  serverRss: number;
  stormFloorMs: { c: number };
  fanoutFloorMs: { c: number };
}

const STORM = "registration storm: every client knows the room";
const FAN = "send_all fan-out: every recipient ACKed or saved";
const STORM_FLOOR = "storm floor: 2N round trips, C echo";
const FAN_FLOOR = "fan-out floor: N−1 round trips, C echo";
type Point = { n: number; y: number; what: string; kind: string };
const times: Point[] = [];
const costs: Point[] = [];

for (const r of results.rooms as RoomResult[]) {
  if (r.stormMs !== null) {
    times.push({ n: r.n, y: r.stormMs, what: STORM, kind: "measured" });
  }
  if (r.fanoutMs !== null) {
    times.push({ n: r.n, y: r.fanoutMs, what: FAN, kind: "measured" });
  }
  times.push({ n: r.n, y: r.stormFloorMs.c, what: STORM_FLOOR, kind: "floor" });
  times.push({ n: r.n, y: r.fanoutFloorMs.c, what: FAN_FLOOR, kind: "floor" });
  costs.push({
    n: r.n,
    y: r.datagramsPerUser,
    what: "server datagrams per user (storm, in + out)",
    kind: "measured",
  });
}
times.push({ n: 10_000, y: 500, what: FAN, kind: "target" });
times.push({ n: 10_000, y: 10_000, what: STORM, kind: "target" });

const x = {
  field: "n",
  type: "quantitative" as const,
  title: "users (N), log scale",
  scale: { type: "log" as const, domain: [50, 20_000] },
};
const machine = results.machine ?? {};
const timeColor = {
  field: "what",
  type: "nominal",
  title: null,
  scale: {
    domain: [STORM, FAN, STORM_FLOOR, FAN_FLOOR],
    range: ["#d62728", "#1f77b4", "#ff9896", "#aec7e8"],
  },
  legend: { orient: "bottom", direction: "vertical", labelLimit: 400 },
} as const;

const spec = vl.compile({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: {
    text: "udpchat rooms: growth against N",
    subtitle: `loopback, ${machine.cores ?? "?"} cores, Deno ${
      machine.deno ?? "?"
    }; +: target; dashed: floors`,
  },
  hconcat: [
    {
      width: 380,
      height: 280,
      data: { values: times },
      layer: [
        {
          transform: [{ filter: "datum.kind === 'measured'" }],
          mark: { type: "line", point: true },
          encoding: {
            x,
            y: {
              field: "y",
              type: "quantitative",
              title: "milliseconds, log scale",
              scale: { type: "log" },
            },
            color: timeColor,
          },
        },
        {
          transform: [{ filter: "datum.kind === 'floor'" }],
          mark: { type: "line", strokeDash: [5, 4] },
          encoding: {
            x,
            y: { field: "y", type: "quantitative", scale: { type: "log" } },
            color: timeColor,
          },
        },
        {
          transform: [{ filter: "datum.kind === 'target'" }],
          mark: { type: "point", shape: "cross", size: 140, filled: true },
          encoding: {
            x,
            y: { field: "y", type: "quantitative", scale: { type: "log" } },
            color: timeColor,
          },
        },
      ],
    },
    {
      width: 260,
      height: 280,
      data: { values: costs },
      mark: { type: "line", point: true, color: "#2ca02c" },
      encoding: {
        x,
        y: {
          field: "y",
          type: "quantitative",
          title: "server datagrams per user in the storm (flat = O(N))",
          scale: { zero: true },
        },
      },
    },
  ],
}).spec;
const view = new vega.View(vega.parse(spec), { renderer: "none" });
Deno.writeTextFileSync(`${ROOT}docs/bench_growth.svg`, await view.toSVG());
Deno.stdout.writeSync(
  new TextEncoder().encode("wrote docs/bench_growth.svg\n"),
);
