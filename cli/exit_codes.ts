/**
 * Exit statuses of udpchat.
 *
 * @module
 */

/** Done: every message was delivered (or the person typed `exit`). */
export const EXIT_OK = 0;
/** The server stopped answering, or a runtime failure (e.g. a port in use). */
export const EXIT_FAILURE = 1;
/** Bad command-line arguments, or a Deno without the unstable net API (`--unstable-net`). */
export const EXIT_USAGE = 2;
/** `--exec`: a message was saved for an Offline user instead of delivered. */
export const EXIT_SAVED = 3;
/**
 * `--exec`: a message was refused (unknown user, too long, server full, or
 * over the sender's hourly quota of saved messages).
 */
export const EXIT_UNKNOWN_USER = 4;
/** Registration refused: the name is Online in another session. */
export const EXIT_NAME_IN_USE = 5;
/**
 * `--exec`: a command did not do what it says: an unknown command, missing
 * text, `dereg`/`reg` with another name, a command while Offline, or a
 * message body from standard input that is empty or not UTF-8.
 */
export const EXIT_COMMAND_FAILED = 6;
