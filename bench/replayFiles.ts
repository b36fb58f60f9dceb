/**
 * What the replay benches (floor.ts, instructions.ts) share: the bench's records as a `dasguard replay` input file
 * (get-records JSON Lines of one shard), and the override file that turns the pack's correlation rules off (the
 * correlations' share of replay is replay's time or instructions with them against without them).
 */
import { writeFileSync } from 'node:fs';
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
