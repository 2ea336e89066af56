/**
 * What the client's state machine asks its terminal to show.
 *
 * @module
 */
export type { EventKind, OutputEvent } from "../protocol/events.ts";
