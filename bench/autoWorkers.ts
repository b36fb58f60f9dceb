/**
 * `npm run bench -- auto` (and part of `npm run bench`): `replay` as users run it by default (`--workers auto`) against
 * `--workers 0`, each in a child process (start-up included), on files just under and just over the size from which
 * auto starts its workers (AUTO_START_BYTES), for records of 10, 100 and 1,000 events: the sizes where starting
 * workers could lose the most (just over the threshold) or where auto must change nothing (just under). Rounds
 * alternate the two modes (0, auto, auto, 0, ...); each figure is the median of ROUNDS. About 4 minutes.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord } from '../src/codec/encode.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { AUTO_START_BYTES, autoWorkers } from '../src/commands/common.js';
import { PG, benchRecords } from '../scripts/sampleData.js';
import { percentile } from './stats.js';
import { childReplay, writeReplayFile } from './replayFiles.js';

const ROUNDS = 5;
/** File sizes, as fractions of AUTO_START_BYTES. */
const FRACTIONS = [0.9, 1.1] as const;

export const AUTO_NOTES = [
  `dasguard replay FILE --output jsonl (the pack) in a child process: --workers auto (the default: ${autoWorkers()} workers here, from the`,
  `start, for files of ${(AUTO_START_BYTES / 1e6).toFixed(0)} MB or more; none below) against --workers 0, median of ${ROUNDS} rounds each, alternating.`,
];

export async function benchAutoWorkers(log: (line: string) => void = () => undefined): Promise<string[][]> {
  const keys = LocalKeyProvider.fromFile('samples/demo-master-key.json');
  const rows: string[][] = [['--workers auto (default) vs 0', 'file', 'records', '--workers 0', '--workers auto', 'x --workers 0']];
  const dir = mkdtempSync(join(tmpdir(), 'dasguard-bench-auto-'));
  try {
    for (const perRecord of [10, 100, 1000]) {
      // One record's encoded size, to make files of the wanted sizes.
      const sample = await encodeRecord(benchRecords(1, perRecord, perRecord + 1)[0]!, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
      const lineBytes = Buffer.from(sample).toString('base64').length + 130;
      for (const fraction of FRACTIONS) {
        const records = Math.ceil((fraction * AUTO_START_BYTES) / lineBytes);
        const envelopes: Uint8Array[] = [];
        for (const r of benchRecords(records, perRecord, perRecord + 1)) envelopes.push(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
        const file = join(dir, `auto-${perRecord}-${fraction}.jsonl`);
        writeReplayFile(file, envelopes);
        const { size } = statSync(file);
        log(`auto: ${records} records of ${perRecord} events (${(size / 1e6).toFixed(1)} MB)`);
        const main: number[] = [];
        const auto: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? (['0', 'auto'] as const) : (['auto', '0'] as const);
          for (const mode of order) (mode === '0' ? main : auto).push(await childReplay(file, ['--workers', mode]));
        }
        const [m, a] = [percentile(main.sort((x, y) => x - y), 50), percentile(auto.sort((x, y) => x - y), 50)];
        rows.push([`${perRecord.toLocaleString('en-US')} events/record`, `${(size / 1e6).toFixed(1)} MB`, records.toLocaleString('en-US'), `${m.toFixed(2)} s`, `${a.toFixed(2)} s`, `${(m / a).toFixed(2)}x`]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
