/**
 * The `--json` line schema, `docs/events.schema.json`, compiled once with
 * Ajv (JSON Schema 2020-12, strict mode, formats checked): tests validate
 * every line they see against it.
 *
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const SCHEMA = JSON.parse(
  await Deno.readTextFile(
    new URL("../docs/events.schema.json", import.meta.url),
  ),
);

const ajv = new Ajv2020({
  strict: true,
  strictRequired: false,
  allErrors: true,
});
// ajv-formats is CommonJS: its function is the default export's default.
const addFormats = ((addFormatsModule as unknown as { default?: unknown })
  .default ?? addFormatsModule) as (a: Ajv2020) => void;
addFormats(ajv);
const validate = ajv.compile(SCHEMA);

/**
 * Validates one printed line.
 *
 * @param line A line udpchat printed with `--json`.
 * @returns The schema errors (empty when the line is valid).
 */
export function validateJsonLine(line: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return [`not JSON: ${(e as Error).message}`];
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) =>
    `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`
  );
}
