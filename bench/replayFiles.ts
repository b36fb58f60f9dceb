/**
 * What the replay benches (floor.ts, instructions.ts, autoWorkers.ts) share: the bench's records as a `dasguard replay` input file
 * (get-records JSON Lines of one shard), and the override file that turns the pack's correlation rules off (the
 * correlations' share of replay is replay's time or instructions with them against without them), and a replay run
 * as a user runs it, in a child process.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PG } from '../scripts/sampleData.js';
import { loadRules } from '../src/rules/load.js';

export const BENCH_STREAM = `aws-rds-das-${PG.clusterId}`;

/** Writes `envelopes` (encoded DAS records) to `file` as one shard's records, sequence numbers 1, 2, … */
export function writeReplayFile(file: string, envelopes: readonly Uint8Array[]): void {
  writeFileSync(file, envelopes.map((e, i) => JSON.stringify({ StreamName: BENCH_STREAM, ShardId: 'shardId-000000000000', SequenceNumber: String(i + 1), Data: Buffer.from(e).toString('base64') })).join('\n') + '\n');
}

/** Writes to `file` the overrides that turn off every correlation rule of the pack in `rulesDir` (default rules/). */
export async function writeStatelessOverrides(file: string, rulesDir = 'rules'): Promise<void> {
  const pack = await loadRules([rulesDir]);
  writeFileSync(file, `overrides:\n${(pack.ruleSet?.correlations ?? []).map((c) => `  - {rule: ${c.info.id}, enabled: false}\n`).join('')}`);
}

/** The compiled CLI (dist/, built by `npm run bench`), as users run it. */
export const DASGUARD_BIN = fileURLToPath(new URL('../bin/dasguard.js', import.meta.url));

/** `dasguard replay FILE … extra` in a child process, as a user runs it (start-up included): its seconds. */
export function childReplay(file: string, extra: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const args = [DASGUARD_BIN, 'replay', file, '--key-file', 'samples/demo-master-key.json', '--output', 'jsonl', '--quiet', ...extra];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e9) : reject(new Error(`bench: replay ${extra.join(' ')} exited ${code}: ${stderr}`))));
  });
}
