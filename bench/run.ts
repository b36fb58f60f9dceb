/**
 * `npm run bench`: throughput figures, each next to its reference measured in the same run.
 *  1. Payload decryption: the stock @aws-crypto/client-node decrypt vs dasguard's decryptPayload (native
 *     node:crypto fast path), on the same ESDK messages (suite 0x0378, signed), for records of 10 and 100 events.
 *     Then the whole decode path (envelope, data key, decrypt, gunzip, parse, normalise): records/s and events/s.
 *  2. (bench/floor.ts; alone: `npm run bench -- decode`) for records of 10, 100 and 1,000 events: the primitives'
 *     floor (key import, ECDSA verify, HKDF, AES-GCM, gunzip, JSON.parse), the decode path and `dasguard replay` as a
 *     share of it, on one core; then decode and replay with --workers 1 and 2 against the main thread, and the 2-core
 *     ceiling (two replay processes at once against one alone).
 *  2b. (bench/autoWorkers.ts; alone: `npm run bench -- auto`) replay as users run it, `--workers auto` (the default)
 *     against `--workers 0`, on files just under and just over the size from which auto starts workers.
 *  3. Rule evaluation with the baseline pack: naive json-rules-engine Engine.run per event vs the compiled RuleSet;
 *     then the pack with its correlations in record order (vs the decode rate) and the state's memory per 1M groups.
 *  4. The live consumer (bench/consumer.ts): put -> alert latency (p50/p99) and backlog drain, run vs replay.
 * Not in the default run: `npm run bench -- instructions` (bench/instructions.ts), the correlations' share of replay
 * counted in instructions under valgrind, which repeats where the timed share does not.
 * One process, one core for the work (Node's main thread). Figures vary with the machine: compare within a run.
 */
import { gunzipSync } from 'node:zlib';
import { encodeRecord } from '../src/codec/encode.js';
import { decodeRecord } from '../src/codec/decode.js';
import { decryptPayload, stockDecryptPayload } from '../src/codec/payload.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { encryptionContextFor } from '../src/keys/KeyProvider.js';
import { PG, benchRecords } from '../scripts/sampleData.js';
import { benchCorrelations, benchRules, memoryRow } from './rules.js';
import { benchDelivery } from './delivery.js';
import { benchConsumer } from './consumer.js';
import { benchFloor, CEILING_NOTES, FLOOR_NOTES, WORKER_NOTES } from './floor.js';
import { benchInstructions, hasValgrind, INSTRUCTION_NOTES } from './instructions.js';
import { AUTO_NOTES, benchAutoWorkers } from './autoWorkers.js';
import { limitHeapGrowth } from '../src/util/heapGrowth.js';

// As the command runs (bin/dasguard.js): heaps held within half again of their live data.
limitHeapGrowth();

const RATE_NOTE = 'steady 20 records/s';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 2000);

interface Prepared {
  envelopes: Uint8Array[];
  messages: Uint8Array[];
  dataKeys: Uint8Array[];
  events: number;
}

async function prepare(perRecord: number, keys: LocalKeyProvider): Promise<Prepared> {
  const records = benchRecords(RECORDS, perRecord, perRecord);
  const envelopes: Uint8Array[] = [];
  const messages: Uint8Array[] = [];
  const dataKeys: Uint8Array[] = [];
  const ctx = encryptionContextFor(PG.clusterId);
  for (const r of records) {
    const env = await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
    envelopes.push(env);
    const parsed = JSON.parse(Buffer.from(env).toString('utf8')) as { databaseActivityEvents: string; key: string };
    messages.push(Buffer.from(parsed.databaseActivityEvents, 'base64'));
    dataKeys.push(await keys.getDataKey(Buffer.from(parsed.key, 'base64'), ctx));
  }
  return { envelopes, messages, dataKeys, events: records.length * perRecord };
}

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  console.log(`dasguard bench: node ${process.version}, ${RECORDS} records per case\n`);
  const keys = LocalKeyProvider.generate('bench-key');
  /** The main thread's decode rate (events/s) per record size: what rule evaluation must stay >= 10x of. */
  const decodeEventsPerSec: number[] = [];
  const rows: string[][] = [['case', 'stock SDK msg/s', 'native msg/s', 'speed-up', 'decode records/s', 'decode events/s', 'avg record bytes']];
  for (const per of [10, 100]) {
    const p = await prepare(per, keys);
    // Warm-up, and a check that both paths agree on the plaintext.
    for (let i = 0; i < 20; i++) {
      const a = await stockDecryptPayload(p.messages[i]!, p.dataKeys[i]!);
      const b = await decryptPayload(p.messages[i]!, p.dataKeys[i]!);
      if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) throw new Error('stock and native decryption disagree');
      gunzipSync(b);
    }
    const stock = await timeIt(async () => {
      for (let i = 0; i < p.messages.length; i++) await stockDecryptPayload(p.messages[i]!, p.dataKeys[i]!);
    });
    const native = await timeIt(async () => {
      for (let i = 0; i < p.messages.length; i++) await decryptPayload(p.messages[i]!, p.dataKeys[i]!);
    });
    let events = 0;
    const decode = await timeIt(async () => {
      for (const env of p.envelopes) events += (await decodeRecord(env, { keys, resourceId: PG.clusterId })).events.length;
    });
    if (events !== p.events) throw new Error(`decoded ${events} events, expected ${p.events}`);
    const bytes = p.envelopes.reduce((s, e) => s + e.length, 0) / p.envelopes.length;
    decodeEventsPerSec.push(events / decode);
    rows.push([
      `${per} events/record`,
      fmt(p.messages.length / stock),
      fmt(p.messages.length / native),
      `${(stock / native).toFixed(2)}x`,
      fmt(p.envelopes.length / decode),
      fmt(events / decode),
      fmt(bytes),
    ]);
  }
  printTable(rows);
  console.log('\nstock = @aws-crypto/client-node decrypt() alone; native = decryptPayload() alone (same messages, verified');
  console.log('signatures); decode = envelope + local data key + decrypt + gunzip + JSON + normalise, one record at a time.\n');
  await printFloor();
  printTable(await benchAutoWorkers());
  console.log(`\n${AUTO_NOTES.join('\n')}\n`);

  const r = await benchRules();
  printTable([
    ['rule evaluation', 'rules', 'events', 'naive json-rules-engine events/s', 'compiled events/s', 'speed-up'],
    ['baseline pack', String(r.rules), fmt(r.events), fmt(r.naiveEventsPerSec), fmt(r.compiledEventsPerSec), `${(r.compiledEventsPerSec / r.naiveEventsPerSec).toFixed(1)}x`],
  ]);
  // The pack with its correlations as the record driver runs them, next to the decode rate it must stay 10x above,
  // and the memory of the correlation state per million groups (heap after a GC: run with node --expose-gc).
  const k = await benchCorrelations();
  console.log('');
  printTable([
    ['rules with correlations', 'correlations', 'events', 'events/s', 'x decode events/s (10 / 100 events/record)'],
    ['baseline pack, in order', String(k.correlations), fmt(k.events), fmt(k.eventsPerSec), decodeEventsPerSec.map((d) => `${(k.eventsPerSec / d).toFixed(1)}x`).join(' / ')],
    ['stateless rules only', '0', fmt(r.events), fmt(r.compiledEventsPerSec), decodeEventsPerSec.map((d) => `${(r.compiledEventsPerSec / d).toFixed(1)}x`).join(' / ')],
  ]);
  console.log(`${memoryRow(k.groups, k.stateBytes)}${globalThis.gc === undefined ? ' (without --expose-gc: garbage included)' : ''}\n`);

  // Alert delivery: outbox + dispatcher + real SNSClient -> loopback SNS, PublishBatch vs one Publish per alert.
  const d = await benchDelivery();
  console.log('');
  printTable([
    ['alert delivery (SNS, loopback)', 'alerts', 'SNS calls', 'alerts/s'],
    ...d.map((x) => [x.mode, fmt(x.alerts), fmt(x.snsCalls), fmt(x.alertsPerSec)]),
  ]);

  console.log('\nlive consumer (dasguard run) on kinesalite in a child process, 2 shards:');
  const c = await benchConsumer(() => undefined);
  printTable([
    ['put -> alert handed off', 'poll interval', 'records', 'p50 ms', 'p99 ms'],
    ...c.latency.map((l) => [`${RATE_NOTE}`, `${l.pollMs} ms`, String(l.records), fmt(l.p50), fmt(l.p99)]),
  ]);
  console.log('');
  printTable([
    ['backlog drain', 'records', 'events', 'run events/s', 'replay events/s', 'run / replay'],
    ['same records', fmt(c.backlog.records), fmt(c.backlog.events), fmt(c.backlog.runEventsPerSec), fmt(c.backlog.replayEventsPerSec), `${Math.round((100 * c.backlog.runEventsPerSec) / c.backlog.replayEventsPerSec)}%`],
  ]);
}

/** The decode path and replay next to the primitives' floor, and their scaling with --workers 1, 2 (bench/floor.ts). */
async function printFloor(): Promise<void> {
  const f = await benchFloor();
  printTable(f.floor);
  console.log(`\n${FLOOR_NOTES.join('\n')}\n`);
  printTable(f.workers);
  console.log(`\n${WORKER_NOTES.join('\n')}\n`);
  printTable(f.ceiling);
  console.log(`\n${CEILING_NOTES.join('\n')}\n`);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [n, r] of rows.entries()) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

// `npm run bench -- decode`: the floor, decode, replay and workers rows alone; `-- auto`: the --workers auto rows. `-- instructions`: the correlations'
// share counted in instructions under valgrind (bench/instructions.ts; not in the default run: minutes, and valgrind).
if (process.argv[2] === 'decode') {
  console.log(`dasguard bench (decode rows only): node ${process.version}\n`);
  await printFloor();
} else if (process.argv[2] === 'auto') {
  console.log(`dasguard bench (--workers auto rows only): node ${process.version}\n`);
  printTable(await benchAutoWorkers((line) => console.error(line)));
  console.log(`\n${AUTO_NOTES.join('\n')}\n`);
} else if (process.argv[2] === 'instructions') {
  if (!hasValgrind()) {
    console.error('bench instructions: valgrind is not installed (Debian: apt-get install valgrind)');
    process.exitCode = 2;
  } else {
    console.log(`dasguard bench (instructions): node ${process.version}\n`);
    printTable(await benchInstructions((line) => console.error(line)));
    console.log(`\n${INSTRUCTION_NOTES.join('\n')}\n`);
  }
} else {
  await main();
}
