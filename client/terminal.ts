/**
 * Temporary plain terminal (piped mode only).
 *
 * @module
 */
import type { OutputEvent } from "../protocol/events.ts";
import { readLines } from "../cli/stdin_lines.ts";

/** A terminal. */
export interface Terminal {
  /** Prints an event. */
  print(event: OutputEvent): void;
  /** Typed lines. */
  lines(): AsyncIterable<string>;
  /** Restores the terminal. */
  close(): void;
}

/** Opens the terminal. */
export function openTerminal(
  options: { json: boolean; color?: boolean; bell?: boolean },
): Terminal {
  const enc = new TextEncoder();
  return {
    print(e) {
      const text = e.text.replace(
        /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
        "\ufffd",
      ).replace(/\t/g, " ");
      const line = options.json
        ? JSON.stringify({
          event: e.event,
          kind: e.kind,
          text: e.text,
          ...e.data,
        })
        : `>>> ${text}` /* sanitize */;
      const b = enc.encode(line + "\n");
      let n = 0;
      while (n < b.length) n += Deno.stdout.writeSync(b.subarray(n));
    },
    lines: () => readLines(Deno.stdin.readable),
    close() {},
  };
}
