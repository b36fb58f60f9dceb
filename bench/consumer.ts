/**
 * The live consumer on kinesalite (in a child process, so it does not share the consumer's core), 2 shards:
 *  a. latency from PutRecord to the alert handed off, p50 and p99, records put at a steady rate while the
 *     consumer runs (at two poll intervals);
 *  b. draining a backlog: `run`'s consumer vs `replay` of the same records from a file, events/s of each.
 * Run alone: `node --import tsx bench/consumer.ts`; `npm run bench` runs it as its third section.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { encodeRecord } from '../src/codec/encode.js';
import { replayCommand } from '../src/commands/replay.js';
import { FileCheckpointStore } from '../src/consumer/FileCheckpointStore.js';
import { KinesisConsumer } from '../src/consumer/KinesisConsumer.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import type { Alert } from '../src/pipeline/alert.js';
import type { AlertHandoff } from '../src/pipeline/AlertHandoff.js';
import { loadRules, type RuleSet } from '../src/rules/index.js';
import { PG, benchRecords } from '../scripts/sampleData.js';
import { createStream, kinesisClient, putRecord, putRecords, startKinesaliteProcess } from '../test/support/kinesis.js';
import { percentile } from './stats.js';

const BACKLOG = Number(process.env.BENCH_CONSUMER_RECORDS ?? 20_000);
const PER_RECORD = 10;
const RATE = 20; // records/s for the latency runs
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 8);

export interface ConsumerBench {
  latency: { pollMs: number; records: number; p50: number; p99: number }[];
  backlog: { records: number; events: number; runEventsPerSec: number; replayEventsPerSec: number };
}

class TimedHandoff implements AlertHandoff {
  /** First hand-off time per "shard/sequence". */
  readonly at = new Map<string, number>();
  async handOff(alerts: readonly Alert[]): Promise<void> {
    const now = performance.now();
    for (const a of alerts) {
      const m = /shard (\S+) sequence (\d+)/.exec(a.source);
      if (m && !this.at.has(`${m[1]}/${m[2]}`)) this.at.set(`${m[1]}/${m[2]}`, now);
    }
  }
  async close(): Promise<void> {}
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function benchConsumer(log: (s: string) => void = console.log): Promise<ConsumerBench> {
  const work = mkdtempSync(join(tmpdir(), 'dasguard-bench-'));
  const kinesalite = await startKinesaliteProcess();
  const client = kinesisClient(kinesalite.url);
  const keys = LocalKeyProvider.generate('bench-key');
  writeFileSync(join(work, 'every.yaml'), 'rules:\n  - id: bench-every-event\n    severity: info\n    when: {engine: postgresql}\n');
  const loaded = await loadRules(['rules', join(work, 'every.yaml')]);
  if (!loaded.ruleSet) throw new Error('bench: rules did not load');
  const rules: RuleSet = loaded.ruleSet;
  const stream = (n: string) => `aws-rds-das-${PG.clusterId}-${n}`;
  const encode = async (n: number, seed: number) => {
    const out: Uint8Array[] = [];
    for (const r of benchRecords(n, PER_RECORD, seed)) out.push(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
    return out;
  };
  const consumerFor = (name: string, handoff: AlertHandoff, pollIntervalMs: number) =>
    new KinesisConsumer({
      client,
      streamName: name,
      resourceId: PG.clusterId,
      deps: { keys, rules },
      handoff,
      checkpoints: new FileCheckpointStore(join(work, `cp-${name}`)),
      from: { type: 'trim-horizon' },
      pollIntervalMs,
    });
  try {
    // a. latency
    const latency: ConsumerBench['latency'] = [];
    for (const pollMs of [1000, 200]) {
      const name = stream(`latency-${pollMs}`);
      await createStream(client, name, 2);
      const total = RATE * LATENCY_SECONDS;
      const data = await encode(total, 1000 + pollMs);
      const handoff = new TimedHandoff();
      const consumer = consumerFor(name, handoff, pollMs);
      const ac = new AbortController();
      const running = consumer.run(ac.signal);
      await new Promise((r) => setTimeout(r, 300)); // iterators taken
      const putAt = new Map<string, number>();
      const t0 = performance.now();
      for (let i = 0; i < total; i++) {
        await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i * 1000) / RATE - performance.now())));
        const before = performance.now();
        const p = await putRecord(client, name, data[i]!, i % 2, 2);
        putAt.set(`${p.shardId}/${p.sequenceNumber}`, before);
      }
      await waitUntil(() => handoff.at.size >= total, 'latency alerts', 30_000);
      ac.abort();
      await running;
      const lat = [...putAt].map(([k, t]) => handoff.at.get(k)! - t).sort((a, b) => a - b);
      latency.push({ pollMs, records: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99) });
    }

    // b. backlog: distinct records, repeated to reach BACKLOG (decryption is per record either way)
    const unique = await encode(Math.min(2000, BACKLOG), 99);
    const data: Uint8Array[] = [];
    for (let i = 0; i < BACKLOG; i++) data.push(unique[i % unique.length]!);
    const name = stream('backlog');
    await createStream(client, name, 2);
    await putRecords(client, name, data);
    const file = join(work, 'backlog.jsonl');
    writeFileSync(file, data.map((d, i) => JSON.stringify({ SequenceNumber: String(i + 1), PartitionKey: 'pk', Data: Buffer.from(d).toString('base64') })).join('\n') + '\n');
    const keyFile = join(work, 'key.json');
    writeFileSync(keyFile, keys.toFileJson(), { mode: 0o600 });

    const consumer = consumerFor(name, { handOff: async () => undefined, close: async () => undefined }, 1000);
    const ac = new AbortController();
    const r0 = performance.now();
    const running = consumer.run(ac.signal);
    await waitUntil(() => consumer.stats().pipeline.records >= BACKLOG, 'backlog drained', 600_000);
    const runSecs = (performance.now() - r0) / 1000;
    ac.abort();
    await running;
    const events = consumer.stats().pipeline.events;

    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const io = { stdout: sink, stderr: process.stderr, stdin: Readable.from([]), env: process.env };
    const p0 = performance.now();
    await replayCommand(
      { inputs: [file], rules: ['rules', join(work, 'every.yaml')], keyFile, resourceId: PG.clusterId, output: 'jsonl', strict: false, redaction: 'literals', concurrency: 16, summary: false },
      io,
    );
    const replaySecs = (performance.now() - p0) / 1000;
    log(`consumer bench: backlog ${BACKLOG} records drained in ${runSecs.toFixed(2)} s (run), replayed in ${replaySecs.toFixed(2)} s`);
    return {
      latency,
      backlog: { records: BACKLOG, events, runEventsPerSec: events / runSecs, replayEventsPerSec: (BACKLOG * PER_RECORD) / replaySecs },
    };
  } finally {
    client.destroy();
    await kinesalite.close();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchConsumer();
  console.log(JSON.stringify(r, null, 2));
}
