/**
 * Regenerates samples/: the demo master key (kept if it exists), the encrypted sample streams (JSON Lines of
 * Kinesis records, as `dasguard` reads them), and the plaintext twin of each. Encryption is randomised, so the
 * stream files change on every run while their content, and so the alerts, stay the same.
 *
 *   npm run samples              regenerate streams and plaintext twins
 *   npm run samples -- --golden  only rewrite samples/expected/*.jsonl from a replay of the plaintext twins
 *                                (review the diff before committing: these are the reviewed expectations)
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeRecord, plaintextEnvelope } from '../src/codec/encode.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { MYSQL, PG, mysqlSample, postgresSample, type SampleRecord } from './sampleData.js';

const ROOT = new URL('..', import.meta.url).pathname;
const SAMPLES = join(ROOT, 'samples');
export const DEMO_KEY_FILE = join(SAMPLES, 'demo-master-key.json');

function sequenceNumber(shard: number, i: number): string {
  // Kinesis sequence numbers are decimal strings of ~56 digits that grow within a shard.
  return `4963${String(shard).padStart(4, '0')}${String(1_000_000 + i * 7919).padStart(48, '0')}`;
}

async function writeStream(name: string, records: SampleRecord[], resourceId: string, version: string, keys: LocalKeyProvider): Promise<void> {
  const streamName = `aws-rds-das-${resourceId}`;
  const enc: string[] = [];
  const plain: string[] = [];
  let arrival = Date.UTC(2026, 9, 14, 9, 0, 0) / 1000;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const data = await encodeRecord(r, { resourceId, version, wrapper: keys });
    arrival += 0.75;
    enc.push(
      JSON.stringify({
        StreamName: streamName,
        ShardId: 'shardId-000000000000',
        SequenceNumber: sequenceNumber(0, i),
        PartitionKey: r.instanceId,
        ApproximateArrivalTimestamp: Number(arrival.toFixed(3)),
        Data: Buffer.from(data).toString('base64'),
      }),
    );
    plain.push(JSON.stringify(plaintextEnvelope(r, version)));
  }
  await writeFile(join(SAMPLES, 'streams', `${streamName}.jsonl`), enc.join('\n') + '\n');
  await writeFile(join(SAMPLES, 'plaintext', `${streamName}.jsonl`), plain.join('\n') + '\n');
  console.error(`samples: ${name}: ${records.length} records -> streams/${streamName}.jsonl and plaintext/${streamName}.jsonl`);
}

async function main(): Promise<void> {
  await mkdir(join(SAMPLES, 'streams'), { recursive: true });
  await mkdir(join(SAMPLES, 'plaintext'), { recursive: true });
  await mkdir(join(SAMPLES, 'expected'), { recursive: true });
  let keys: LocalKeyProvider;
  if (existsSync(DEMO_KEY_FILE)) keys = await LocalKeyProvider.fromFile(DEMO_KEY_FILE);
  else {
    keys = LocalKeyProvider.generate('dasguard-demo-key', 'DEMO master key for the bundled dasguard samples. Published on purpose: NOT A SECRET. Never use it for real data.');
    await writeFile(DEMO_KEY_FILE, keys.toFileJson());
    console.error(`samples: new demo master key in ${DEMO_KEY_FILE}`);
  }
  if (!process.argv.includes('--golden')) {
    await writeStream('postgresql', postgresSample(), PG.clusterId, PG.version, keys);
    await writeStream('mysql', mysqlSample(), MYSQL.clusterId, MYSQL.version, keys);
  } else {
    const { main: cli } = await import('../src/cli.js');
    const { PassThrough } = await import('node:stream');
    for (const [name, rid] of [
      ['postgresql', PG.clusterId],
      ['mysql', MYSQL.clusterId],
    ] as const) {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      const code = await cli(
        ['replay', join(SAMPLES, 'plaintext', `aws-rds-das-${rid}.jsonl`), '--rules', join(ROOT, 'rules'), '--output', 'jsonl', '--quiet'],
        { stdout: out, stderr: process.stderr, stdin: process.stdin, env: process.env },
      );
      if (code !== 0) throw new Error(`replay of the ${name} sample exited ${code}`);
      // Golden files hold alerts without their `source` (file:line differs between the encrypted and plaintext form).
      const lines = Buffer.concat(chunks)
        .toString('utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const a = JSON.parse(l) as Record<string, unknown>;
          delete a.source;
          return JSON.stringify(a);
        });
      await writeFile(join(SAMPLES, 'expected', `${name}-alerts.jsonl`), lines.join('\n') + '\n');
      console.error(`samples: expected/${name}-alerts.jsonl: ${lines.length} alerts (review the diff before committing)`);
    }
  }
}

await main();
