import { LightClient, newTraffic } from "../bench/_light_client.ts";
const c = new LightClient("probe", Number(Deno.args[0]), newTraffic(), "ignore");
await c.register();
const rtts: number[] = []; let lost = 0;
const end = Date.now() + Number(Deno.args[1]);
while (Date.now() < end) {
  const t = performance.now();
  const r = await c.who("probe", 1000);
  if (r === undefined) lost++; else rtts.push(performance.now() - t);
  await new Promise((r) => setTimeout(r, 5));
}
rtts.sort((a, b) => a - b);
console.log(`probe: n=${rtts.length} lost=${lost} p50=${rtts[rtts.length >> 1]?.toFixed(1)} p99=${rtts[Math.floor(rtts.length * 0.99)]?.toFixed(1)} max=${rtts.at(-1)?.toFixed(1)}`);
await c.close(); Deno.exit(0);
