/**
 * udpchat's version.
 *
 * @module
 */

/** The version `--version` prints. */
export const VERSION = "0.1.0";
