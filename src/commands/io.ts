/**
 * The process streams a command writes to, and the one decision made from them alone (whether text output is
 * coloured). Kept apart from common.ts so the CLI registry (src/cli.ts) can build an Io without loading what the
 * commands share (rule loading, key providers, the AWS SDK): `dasguard --help` imports no command.
 */
import type { Writable } from 'node:stream';

/** The process streams a command writes to (tests pass their own). `isTTY`: text output may be coloured. */
export interface Io {
  stdout: Writable & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/** Alerts and events on stdout are coloured only as text, to a terminal, and when NO_COLOR is not set. */
export function colorOutput(output: string, io: Io): boolean {
  return output === 'text' && Boolean(io.stdout.isTTY) && !io.env.NO_COLOR;
}
