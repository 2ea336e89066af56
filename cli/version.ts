/**
 * udpchat's version, kept in one place: `deno.json`.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** The version `--version` prints: the `version` field of `deno.json`. */
export const VERSION: string = config.version;
