/** Runs the CLI in-process with captured streams, as a user's shell would see it. */
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli.js';
import type { Io } from '../../src/commands/io.js';

/** An Io whose stdout and stderr are captured (read them with `stdout()` / `stderr()` at any time). */
export function capturedIo(env: NodeJS.ProcessEnv = process.env, stdin?: string): { io: Io; stdout: () => string; stderr: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough() as unknown as NodeJS.WriteStream;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  (stderr as unknown as PassThrough).on('data', (c: Buffer) => err.push(c));
  const input = Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]);
  return {
    io: { stdout, stderr, stdin: input, env },
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const c = capturedIo(opts.env ?? { ...process.env, NO_COLOR: '1' }, opts.stdin);
  const code = await main(args, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

export function jsonLines(s: string): Record<string, unknown>[] {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * `stderr` with a service's final `dasguard stopped` log line (JSON: `run` and `watch` when stderr is not a terminal,
 * src/cli.ts) written back as the `dasguard: MESSAGE` line the other commands print, so one assertion reads both.
 */
export function plainErrors(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{')) return line;
      const entry = JSON.parse(line) as { msg?: string; error?: string };
      return entry.msg === 'dasguard stopped' ? `dasguard: ${entry.error ?? ''}` : line;
    })
    .join('\n');
}
