/**
 * Lines read from a byte stream, for piped input.
 *
 * @module
 */

/**
 * Splits a byte stream into lines (`\n` or `\r\n`), including a last line
 * with no newline.
 *
 * @param stream The bytes.
 * @returns The lines, without their line ends.
 *
 * @example Usage
 * ```ts
 * import { readLines } from "./stdin_lines.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const stream = ReadableStream.from([new TextEncoder().encode("a\r\nb")]);
 * assertEquals(await Array.fromAsync(readLines(stream)), ["a", "b"]);
 * ```
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let i: number;
    while ((i = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, i).replace(/\r$/, "");
      rest = rest.slice(i + 1);
    }
  }
  if (rest !== "") yield rest.replace(/\r$/, "");
}
