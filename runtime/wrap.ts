/**
 * Laying text out in terminal rows: wrapped at the terminal's width by
 * display width, never inside a grapheme cluster, the first row after a
 * prompt and the rows after it marked by an indent.
 *
 * @module
 */
import { clusterWidth, displayWidth } from "./display_width.ts";

const SEGMENTER = new Intl.Segmenter();

/** One row of laid-out text. */
export interface Row {
  /** The prompt (first row) or the indent (the rows after it). */
  prefix: string;
  /** The text on this row. */
  text: string;
}

/** A position on screen, relative to the first row of the layout. */
export interface Position {
  /** The row, from 0. */
  row: number;
  /** The column, from 0. */
  col: number;
  /** What is on that row before the position (prefix and text). */
  before: string;
}

/** What {@linkcode wrapText} returns. */
export interface Wrapped {
  /** The rows; at least one. */
  rows: Row[];
  /** Where the `cursor` index lands (the end when none was given). */
  cursor: Position;
  /** Where the text ends: where a terminal's cursor is after writing it. */
  end: Position;
}

/** Options for {@linkcode wrapText}. */
export interface WrapOptions {
  /** The terminal's width in columns (default: no wrapping). */
  columns?: number;
  /** What the first row starts with (default none). */
  prompt?: string;
  /** What every later row starts with (default none). */
  indent?: string;
  /** An index into the text (UTF-16 code units) to locate on screen. */
  cursor?: number;
}

/**
 * Lays text out in rows of at most `columns` columns. A cluster that does
 * not fit on a row starts the next one (so a wide character is never cut in
 * two); a row filled to the last column is followed by an empty row when the
 * text ends there, as a terminal's cursor moves on to it. Text must hold no
 * control characters (see `sanitize`).
 *
 * @param text The text to lay out.
 * @param options Width, prompt, indent and the index to locate.
 * @returns The rows and where the cursor and the end are.
 *
 * @example Usage
 * ```ts
 * import { wrapText } from "./wrap.ts";
 * import { assertEquals } from "../tests/_assert.ts";
 * const w = wrapText("abcdef", { columns: 6, prompt: "> ", indent: "  " });
 * assertEquals(w.rows.map((r) => r.prefix + r.text), ["> abcd", "  ef"]);
 * ```
 */
export function wrapText(text: string, options: WrapOptions = {}): Wrapped {
  const prompt = options.prompt ?? "";
  const promptWidth = displayWidth(prompt);
  const columns = Math.max(options.columns ?? Infinity, promptWidth + 2);
  let indent = options.indent ?? "";
  if (displayWidth(indent) + 2 > columns) indent = "";
  const indentWidth = displayWidth(indent);
  const rows: Row[] = [{ prefix: prompt, text: "" }];
  let col = promptWidth;
  let cursor: Position | undefined;
  const here = (): Position => {
    const row = rows.at(-1)!;
    return { row: rows.length - 1, col, before: row.prefix + row.text };
  };
  const newRow = () => {
    rows.push({ prefix: indent, text: "" });
    col = indentWidth;
  };
  for (const { segment, index } of SEGMENTER.segment(text)) {
    const width = clusterWidth(segment);
    if (col + Math.max(width, 1) > columns && col > 0) newRow();
    if (index === options.cursor) cursor = here();
    rows.at(-1)!.text += segment;
    col += width;
  }
  if (col >= columns) newRow();
  const end = here();
  return { rows, cursor: cursor ?? end, end };
}
