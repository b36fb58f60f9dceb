/**
 * `npm run bench -- instructions`: the correlations' share of `replay` counted in instructions (valgrind's callgrind),
 * not in seconds. The timed share (floor.ts, the median of 7 pairs) still moved by 3 points between runs of the same
 * code on this machine. A run's instruction count repeats within ~2% whatever else the machine is doing (four runs of
 * one tree: 10.85-11.07 G), so the correlations' part of it within about a tenth. That is enough to see a change of a
 * fifth of their cost, not one of a few percent. Instructions are not time (cache misses, the GC's pauses), so report
 * the timed figures too.
 *
 * For records of 100 and of 1,000 events (300 and 30 records: 30,000 events each, the bench's traffic), the compiled
 * CLI's `replay --workers 0` runs in a child process under `valgrind --tool=callgrind` three times: with the pack, with
 * its correlation rules turned off (an override file), and on the first record alone (start-up, rule loading and
 * JIT warm-up, taken off both). Share = (with - without) / (with - start-up). Needs valgrind (Debian's package). Each
 * run takes about a minute under it, and two run at a time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord } from '../src/codec/encode.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { PG, benchRecords } from '../scripts/sampleData.js';
import { DASGUARD_BIN, writeReplayFile, writeStatelessOverrides } from './replayFiles.js';

const SIZES = [
  { perRecord: 100, records: 300 },
  { perRecord: 1000, records: 30 },
] as const;

export const INSTRUCTION_NOTES = [
  'instructions counted by valgrind --tool=callgrind for a `dasguard replay --workers 0` child process each: with the',
  "pack, with its correlation rules turned off (overrides), and on the first record alone (start-up: taken off both);",
  'share = (with - without) / (with - start-up). Totals repeat within ~2% run to run (the share within about a tenth of',
  'itself); instructions are not seconds.',
];

/** Whether valgrind runs here. */
export function hasValgrind(): boolean {
  const r = spawnSync('valgrind', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/** Instructions of `dasguard replay FILE --workers 0 … extra` under callgrind. */
function instructions(file: string, extra: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, DASGUARD_BIN, 'replay', file, '--key-file', 'samples/demo-master-key.json', '--output', 'jsonl', '--quiet', '--workers', '0', ...extra];
    const child = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const m = /Collected : (\d+)/.exec(stderr);
      if (code === 0 && m !== null) resolve(Number(m[1]));
      else reject(new Error(`bench: replay ${extra.join(' ')} under valgrind exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** The instruction rows: records of, records, instructions with, without, start-up, the correlations' share. */
export async function benchInstructions(log: (line: string) => void = () => undefined): Promise<string[][]> {
  const keys = LocalKeyProvider.fromFile('samples/demo-master-key.json');
  const rows: string[][] = [['correlations, in instructions', 'records', 'replay', 'without correlations', 'start-up (1 record)', 'correlations, share of replay']];
  const dir = mkdtempSync(join(tmpdir(), 'dasguard-bench-instructions-'));
  try {
    const statelessOnly = join(dir, 'stateless-only.yaml');
    await writeStatelessOverrides(statelessOnly);
    for (const { perRecord, records } of SIZES) {
      const envelopes: Uint8Array[] = [];
      for (const r of benchRecords(records, perRecord, perRecord + 1)) envelopes.push(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
      const file = join(dir, `replay-${perRecord}.jsonl`);
      const first = join(dir, `replay-${perRecord}-first.jsonl`);
      writeReplayFile(file, envelopes);
      writeReplayFile(first, envelopes.slice(0, 1));
      log(`instructions: ${records} records of ${perRecord} events under callgrind`);
      const [withThem, without] = await Promise.all([instructions(file, []), instructions(file, ['--rules', 'rules', '--rules', statelessOnly])]);
      const startUp = await instructions(first, []);
      const share = (withThem - without) / (withThem - startUp);
      const g = (n: number) => `${(n / 1e9).toFixed(2)} G`;
      rows.push([`${perRecord.toLocaleString('en-US')} events/record`, records.toLocaleString('en-US'), g(withThem), g(without), g(startUp), `${(100 * share).toFixed(1)}%`]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
