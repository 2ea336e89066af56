/**
 * Renders docs/bench_growth.svg from docs/bench_results.json: how fan-out
 * time and registration-storm time grow with the number of users. Dev-only
 * (vega and vega-lite from npm), run by `deno task bench:chart`.
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";

const ROOT = new URL("..", import.meta.url).pathname;
const results = JSON.parse(
  Deno.readTextFileSync(`${ROOT}docs/bench_results.json`),
);
const values: { n: number; ms: number; what: string }[] = [];
for (
  const r of results.rooms as {
    n: number;
    stormMs: number | null;
    fanoutMs: number | null;
  }[]
) {
  if (r.fanoutMs !== null) {
    values.push({
      n: r.n,
      ms: r.fanoutMs,
      what: "send_all fan-out, all ACKed",
    });
  }
  if (r.stormMs !== null) {
    values.push({
      n: r.n,
      ms: r.stormMs,
      what: "registration storm, all tables converged",
    });
  }
}
const spec = vl.compile({
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: "udpchat: time to finish vs users (loopback, 2 cores)",
  width: 520,
  height: 300,
  data: { values },
  mark: { type: "line", point: true },
  encoding: {
    x: {
      field: "n",
      type: "quantitative",
      title: "users (N)",
      scale: { type: "log" },
    },
    y: {
      field: "ms",
      type: "quantitative",
      title: "milliseconds",
      scale: { type: "log" },
    },
    color: {
      field: "what",
      type: "nominal",
      title: null,
      legend: { orient: "bottom", labelLimit: 400 },
    },
  },
}).spec;
const view = new vega.View(vega.parse(spec), { renderer: "none" });
Deno.writeTextFileSync(`${ROOT}docs/bench_growth.svg`, await view.toSVG());
Deno.stdout.writeSync(
  new TextEncoder().encode("wrote docs/bench_growth.svg\n"),
);
