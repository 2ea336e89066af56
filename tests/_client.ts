/**
 * The client core as the rule tests read it: what it shows as the lines a
 * person reads (its typed events rendered by `describeClientEvent`, kept
 * too in {@linkcode ClientState.log}), and its decision to exit as the
 * status the adapter gives it. Everything else is the core's own.
 *
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { Datagram } from "../protocol/datagram.ts";
import type { OutputEvent } from "../protocol/events.ts";
import { describeClientEvent } from "../protocol/lines.ts";
import type { Machine } from "../protocol/machine.ts";
import type { Row } from "../protocol/messages.ts";
import {
  type ClientEvent,
  type ClientExit,
  type ClientOptions,
  type ClientPhase,
  ClientState as Core,
  type Outcomes,
} from "../client/mod.ts";
import { exitStatus } from "../runtime/client.ts";

/** A {@linkcode Core} whose events are the lines it prints. */
export class ClientState implements Machine<OutputEvent> {
  /** The core itself. */
  readonly core: Core;
  /** Every typed event the core reported, in order. */
  readonly log: ClientEvent[] = [];

  /** @param options As for the core. */
  constructor(options: ClientOptions) {
    this.core = new Core(options);
  }

  /** As the core's. */
  get phase(): ClientPhase {
    return this.core.phase;
  }

  /** The core's decision to exit. */
  get exit(): ClientExit | undefined {
    return this.core.exit;
  }

  /** The exit status the adapter gives the core's decision to exit. */
  get exitCode(): number | undefined {
    const exit = this.core.exit;
    return exit === undefined ? undefined : exitStatus(exit);
  }

  /** As the core's. */
  get table(): readonly Row[] {
    return this.core.table;
  }

  /** As the core's. */
  get idle(): boolean {
    return this.core.idle;
  }

  /** As the core's. */
  get outcomes(): Readonly<Outcomes> {
    return this.core.outcomes;
  }

  /** The core's drops by reason, as a plain record. */
  get dropped(): Record<string, number> {
    return this.core.dropped as Record<string, number>;
  }

  /** As the core's. */
  start(now: number): void {
    this.core.start(now);
  }

  /** As the core's. */
  command(line: string, now: number): void {
    this.core.command(line, now);
  }

  /** As the core's. */
  receiveDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.core.receiveDatagram(bytes, from, now);
  }

  /** As the core's. */
  handleTimer(now: number): void {
    this.core.handleTimer(now);
  }

  /** As the core's. */
  getTimer(): number | undefined {
    return this.core.getTimer();
  }

  /** As the core's. */
  datagramsToSend(): Datagram[] {
    return this.core.datagramsToSend();
  }

  /** The core's events since the last call, as the lines they print. */
  events(): OutputEvent[] {
    const events = this.core.events();
    this.log.push(...events);
    return events.map(describeClientEvent);
  }
}
