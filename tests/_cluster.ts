/**
 * Helpers for end-to-end tests of several server nodes on one NATS: start a
 * node, kill one with SIGKILL, and make clients exit one by one.
 */
import { assertEquals } from "./_assert.ts";
import type { NatsServer } from "./_nats_server.ts";
import { Proc } from "./_proc.ts";

/**
 * A client's lines when it registers again by itself: a client that kept
 * its session across a change of leader prints none of them.
 */
export const RECOVERY =
  /^\[The server (restarted; registered again|marked you Offline; registering again)\.\]$/;

/** Starts `udpchat -s PORT --store nats://...` and waits until it is online. */
export async function startNode(
  port: number,
  nats: NatsServer,
): Promise<Proc> {
  const p = new Proc(["-s", String(port), "--store", nats.url], {
    label: `node:${port}`,
  });
  await p.waitFor("[Server is online...]");
  return p;
}

/** Kills a node with SIGKILL (`kill -9`) and waits until it is gone. */
export async function killNode(p: Proc): Promise<void> {
  p.kill("SIGKILL");
  await p.status;
  await p[Symbol.asyncDispose]();
}

/** Types `exit` in each client in turn; each must exit with status 0. */
export async function exitAll(...procs: Proc[]): Promise<void> {
  for (const p of procs) {
    await p.type("exit");
    assertEquals(await p.status, 0, `${p.label} exits with 0`);
  }
}
