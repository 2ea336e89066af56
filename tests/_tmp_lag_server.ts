import { runServer } from "../runtime/server.ts";
let last = performance.now(), max = 0; const lags: number[] = [];
setInterval(() => { const now = performance.now(); const lag = now - last - 5; if (lag > max) max = lag; last = now; }, 5);
setInterval(() => { lags.push(Math.round(max)); max = 0; }, 250);
Deno.addSignalListener("SIGUSR1", () => {});
setTimeout(() => { console.error("lags(ms per 250ms):", lags.join(",")); Deno.exit(0); }, Number(Deno.args[1]));
await runServer({ port: Number(Deno.args[0]), stdin: false, limits: Deno.args[2] ? JSON.parse(Deno.args[2]) : undefined });
