/**
 * Renders docs/bench_growth.svg from docs/bench_results.json: how the time of
 * a `send_all` fan-out and of a registration storm grows with the number of
 * users, with the targets. A storm that did not finish within its time limit
 * is drawn dashed to where the rate it reached would have finished it.
 * Dev-only (vega and vega-lite from npm, rendered headlessly to SVG), run by
 * `deno task bench:chart`.
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";

const ROOT = new URL("..", import.meta.url).pathname;
const results = JSON.parse(
  Deno.readTextFileSync(`${ROOT}docs/bench_results.json`),
);

const FAN = "send_all fan-out: every recipient ACKed";
const STORM = "registration storm: every table complete";
type Point = { n: number; ms: number; what: string; kind: string };
const values: Point[] = [];

for (const f of results.fanouts as { n: number; fanoutMs: number | null }[]) {
  if (f.fanoutMs !== null) {
    values.push({ n: f.n, ms: f.fanoutMs, what: FAN, kind: "measured" });
  }
}
let lastStorm: Point | undefined;
for (
  const s of results.storms as {
    n: number;
    stormMs: number | null;
    rowsKnown: number;
    rowsTotal: number;
    capMs: number;
  }[]
) {
  if (s.stormMs !== null) {
    lastStorm = { n: s.n, ms: s.stormMs, what: STORM, kind: "measured" };
    values.push(lastStorm);
  } else if (s.rowsKnown > 0) {
    // Not complete within its limit: where the rate of rows it reached leads.
    const ms = s.capMs * s.rowsTotal / s.rowsKnown;
    if (lastStorm !== undefined) {
      values.push({ ...lastStorm, kind: "projected" });
    }
    values.push({ n: s.n, ms, what: STORM, kind: "projected" });
  }
}
values.push({ n: 10_000, ms: 1_000, what: FAN, kind: "target" });
values.push({ n: 10_000, ms: 10_000, what: STORM, kind: "target" });

const color = {
  field: "what",
  type: "nominal",
  title: null,
  scale: { domain: [FAN, STORM], range: ["#1f77b4", "#d62728"] },
  legend: { orient: "bottom", direction: "vertical", labelLimit: 400 },
} as const;
const x = {
  field: "n",
  type: "quantitative" as const,
  title: "users (N), log scale",
  scale: { type: "log" as const, domain: [50, 20_000] },
};
const y = {
  field: "ms",
  type: "quantitative",
  title: "milliseconds, log scale",
  scale: { type: "log" },
} as const;
const machine = results.machine ?? {};

const spec = vl.compile({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: {
    text: "udpchat: time to finish against users",
    subtitle: `loopback, ${machine.cores ?? "?"} cores, Deno ${
      machine.deno ?? "?"
    }; dashed: projected from the rate reached; +: target`,
  },
  width: 520,
  height: 300,
  data: { values },
  layer: [
    {
      transform: [{ filter: "datum.kind === 'measured'" }],
      mark: { type: "line", point: true },
      encoding: { x, y, color },
    },
    {
      transform: [{ filter: "datum.kind === 'projected'" }],
      mark: { type: "line", strokeDash: [5, 4], point: { filled: false } },
      encoding: { x, y, color },
    },
    {
      transform: [{ filter: "datum.kind === 'target'" }],
      mark: { type: "point", shape: "cross", size: 140, filled: true },
      encoding: { x, y, color },
    },
  ],
}).spec;
const view = new vega.View(vega.parse(spec), { renderer: "none" });
Deno.writeTextFileSync(`${ROOT}docs/bench_growth.svg`, await view.toSVG());
Deno.stdout.writeSync(
  new TextEncoder().encode("wrote docs/bench_growth.svg\n"),
);
