/** `run`'s options as the e2e tests drive it on kinesalite: fast polling, temp checkpoint and state dirs, JSON Lines. */
import type { RunOptions } from '../../src/commands/run.js';
import { tempDir } from './kinesis.js';

/** The tests' defaults under `extra` (which names the stream or cluster, the rules, and what the test is about). */
export function testRunOptions(extra: Partial<RunOptions> & Pick<RunOptions, 'rules'>): RunOptions {
  const dir = tempDir();
  return {
    output: 'jsonl',
    redaction: 'literals',
    from: 'trim-horizon',
    checkpointDir: dir,
    stateDir: `${dir}-state`,
    pollIntervalMs: 50,
    statusIntervalMs: 60_000,
    discoveryIntervalMs: 1000,
    concurrency: 8,
    ...extra,
  };
}
