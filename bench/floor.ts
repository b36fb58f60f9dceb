/**
 * The decode path next to its hardware floor, in one run, for records of 10, 100 and 1,000 events:
 *  - floor: the primitives alone, on the same ESDK messages and data keys: signing key import + ECDSA P-384 verify,
 *    data key unwrap (AES-GCM) + HKDF + header auth + every frame (AES-GCM), gunzip, JSON.parse. Offsets are read
 *    before the clock starts; nothing is checked, normalised or copied that the primitives do not need.
 *  - decode: decodeRecord() of the same records (envelope, local data key, decryptPayload, gunzip, parse,
 *    normalise), one record at a time on the main thread; then with a RecordPool of 1 and 2 workers (16 records
 *    in flight; decrypt, gunzip, parse and normalise in the workers, the events sent back, as `decode` does).
 *  - replay: `dasguard replay FILE --output jsonl` (baseline rules, demo key; the compiled CLI in dist/) of the same
 *    number of records, on the main thread and with --workers 1 and 2 (each run starts its workers); every mode is
 *    run once before any is timed. The correlations' share of it: main-thread replays with and without the pack's
 *    correlation rules, SHARE_PAIRS pairs back to back, the median of the pairs' shares.
 *  - the ceiling: two `replay --workers 0` child processes at once against one alone (what 2 cores give this work at
 *    best, nothing shared), and one `replay --workers 2` child process next to them, start-up included in each.
 * events/s per core: a main-thread figure uses one core; a --workers N figure is divided by min(N + 1, cores)
 * (the main thread works too). `npm run bench -- decode` runs this section alone.
 */
import { createDecipheriv, hkdfSync, KeyObject, verify, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { RecordPool } from '../src/pipeline/workers/RecordPool.js';
import { processRecord } from '../src/pipeline/processRecord.js';
import { decodeRecord } from '../src/codec/decode.js';
import { encodeRecord } from '../src/codec/encode.js';
import { parseEsdkHeader } from '../src/codec/esdkHeader.js';
import { encryptionContextFor } from '../src/keys/KeyProvider.js';
import { LocalKeyProvider } from '../src/keys/LocalKeyProvider.js';
import { PG, benchRecords } from '../scripts/sampleData.js';
import { percentile } from './stats.js';
import { BENCH_STREAM, childReplay, writeReplayFile, writeStatelessOverrides } from './replayFiles.js';

/** Records per case: about the same work per case whatever the record size. */
const SIZES: readonly { perRecord: number; records: number }[] = [
  { perRecord: 10, records: Number(process.env.BENCH_RECORDS ?? 2000) },
  { perRecord: 100, records: Math.ceil(Number(process.env.BENCH_RECORDS ?? 2000) / 2) },
  { perRecord: 1000, records: Math.ceil(Number(process.env.BENCH_RECORDS ?? 2000) / 10) },
];
const POOL_CONCURRENCY = 16;
/** Back-to-back pairs of replays (with and without the correlations) whose median share is reported. */
const SHARE_PAIRS = 7;
const WORKERS = [1, 2] as const;
const CORES = availableParallelism();
const P384_RAW = { name: 'ECDSA', namedCurve: 'P-384' } as const;

/** One message cut into what the primitives take (views of the message). */
interface Pieces {
  compressedKey: Buffer;
  signed: Buffer;
  signature: Buffer;
  unwrap: { iv: Buffer; aad: Buffer; ciphertext: Buffer; tag: Buffer };
  hkdfInfo: Buffer;
  header: { iv: Buffer; aad: Buffer; tag: Buffer };
  frames: { iv: Buffer; aad: Buffer; ciphertext: Buffer; tag: Buffer }[];
}

function cut(message: Uint8Array): Pieces {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const h = parseEsdkHeader(buf);
  if (h === undefined || h.contentType !== 2 || h.candidates.length !== 1) throw new Error('bench: not a framed DAS message');
  const { info, wrapped } = h.candidates[0]!;
  const frames: Pieces['frames'] = [];
  let pos = h.bodyStart;
  for (;;) {
    const final = buf.readUInt32BE(pos) === 0xffffffff;
    const seq = final ? buf.readUInt32BE(pos + 4) : buf.readUInt32BE(pos);
    const ivAt = pos + (final ? 8 : 4);
    const length = final ? buf.readUInt32BE(ivAt + 12) : h.frameLength;
    const contentAt = ivAt + 12 + (final ? 4 : 0);
    const aad = Buffer.alloc(16 + (final ? 34 : 28) + 12);
    h.messageId.copy(aad);
    aad.write(final ? 'AWSKMSEncryptionClient Final Frame' : 'AWSKMSEncryptionClient Frame', 16);
    aad.writeUInt32BE(seq, aad.length - 12);
    aad.writeUInt32BE(length, aad.length - 4);
    frames.push({ iv: buf.subarray(ivAt, ivAt + 12), aad, ciphertext: buf.subarray(contentAt, contentAt + length), tag: buf.subarray(contentAt + length, contentAt + length + 16) });
    pos = contentAt + length + 16;
    if (final) break;
  }
  return {
    compressedKey: Buffer.from(h.publicKeyB64!, 'base64'),
    signed: buf.subarray(0, pos),
    signature: buf.subarray(pos + 2),
    unwrap: { iv: info.subarray(15), aad: h.unwrapAad, ciphertext: wrapped.subarray(0, 32), tag: wrapped.subarray(32) },
    hkdfInfo: buf.subarray(2, 20),
    header: { iv: h.headerIv, aad: buf.subarray(0, h.headerEnd), tag: h.headerTag },
    frames,
  };
}

function open(key: Buffer, iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  d.setAAD(aad);
  d.setAuthTag(tag);
  const clear = d.update(ciphertext);
  d.final();
  return clear;
}

/** The primitives of one record; returns its event count. The cheapest key import measured (bench/signingKey.ts). */
async function floorRecord(p: Pieces, dataKey: Uint8Array): Promise<number> {
  const key = KeyObject.from(await webcrypto.subtle.importKey('raw', p.compressedKey, P384_RAW, false, ['verify']));
  if (!verify('sha384', p.signed, { key, dsaEncoding: 'der' }, p.signature)) throw new Error('bench: floor signature');
  const messageKey = open(Buffer.from(dataKey.buffer, dataKey.byteOffset, dataKey.byteLength), p.unwrap.iv, p.unwrap.aad, p.unwrap.ciphertext, p.unwrap.tag);
  const derived = Buffer.from(hkdfSync('sha384', messageKey, Buffer.alloc(0), p.hkdfInfo, 32));
  open(derived, p.header.iv, p.header.aad, Buffer.alloc(0), p.header.tag);
  const clear = p.frames.map((f) => open(derived, f.iv, f.aad, f.ciphertext, f.tag));
  const json = gunzipSync(clear.length === 1 ? clear[0]! : Buffer.concat(clear));
  return (JSON.parse(json.toString('utf8')) as { databaseActivityEventList: unknown[] }).databaseActivityEventList.length;
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const perCore = (eventsPerSec: number, workers: number): number => eventsPerSec / Math.min(workers + 1, CORES);

export interface FloorTables {
  floor: string[][];
  workers: string[][];
  /** What 2 cores give this work at best: two independent replays at once against one alone (child processes). */
  ceiling: string[][];
  /** decode events/s on the main thread per record size (10, 100, 1000). */
  decodeEventsPerSec: number[];
}

/**
 * `dasguard` as users run it: the compiled CLI (dist/, built by `npm run bench`), so replay's worker threads start
 * from JavaScript as they do for users, not through tsx's loader (which makes each start ~0.4 s slower).
 */
function compiledCli(): Promise<typeof import('../src/cli.js')> {
  return import(new URL('../dist/cli.js', import.meta.url).href) as Promise<typeof import('../src/cli.js')>;
}

export async function benchFloor(log: (line: string) => void = () => undefined): Promise<FloorTables> {
  const keys = LocalKeyProvider.fromFile('samples/demo-master-key.json');
  const ctx = encryptionContextFor(PG.clusterId);
  const floor: string[][] = [['decode vs floor (one core)', 'records', 'floor events/s', 'decode events/s', 'decode / floor', 'replay events/s', 'replay / floor', 'correlations, share of replay']];
  const workers: string[][] = [['workers scaling', 'main thread events/s', ...WORKERS.flatMap((n) => [`--workers ${n} events/s (per core)`, 'x main'])]];
  const ceiling: string[][] = [['2 cores at best (processes)', '1 replay alone', '2 replays at once', 'x one (the ceiling)', '1 replay --workers 2', 'x one']];
  const decodeEventsPerSec: number[] = [];
  const pools = new Map(WORKERS.map((n) => [n, new RecordPool({ workers: n })]));
  const dir = mkdtempSync(join(tmpdir(), 'dasguard-bench-floor-'));
  // The pack with its correlation rules turned off (an override file), for their share of replay's time.
  const statelessOnly = join(dir, 'stateless-only.yaml');
  await writeStatelessOverrides(statelessOnly);
  try {
    for (const { perRecord, records } of SIZES) {
      log(`floor: preparing ${records} records of ${perRecord} events`);
      const envelopes: Uint8Array[] = [];
      const pieces: Pieces[] = [];
      const dataKeys: Uint8Array[] = [];
      for (const r of benchRecords(records, perRecord, perRecord + 1)) {
        const env = await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
        envelopes.push(env);
        const parsed = JSON.parse(Buffer.from(env).toString('utf8')) as { databaseActivityEvents: string; key: string };
        pieces.push(cut(Buffer.from(parsed.databaseActivityEvents, 'base64')));
        dataKeys.push(await keys.getDataKey(Buffer.from(parsed.key, 'base64'), ctx));
      }
      const total = records * perRecord;
      const check = (what: string, n: number) => {
        if (n !== total) throw new Error(`bench: ${what} gave ${n} events, expected ${total}`);
      };
      const stream = BENCH_STREAM;
      const file = join(dir, `${stream}-${perRecord}.jsonl`);
      writeReplayFile(file, envelopes);

      const runFloor = async (from: number, to: number) => {
        let n = 0;
        for (let i = from; i < to; i++) n += await floorRecord(pieces[i]!, dataKeys[i]!);
        return n;
      };
      const runDecode = async (from: number, to: number) => {
        let n = 0;
        for (let i = from; i < to; i++) n += (await decodeRecord(envelopes[i]!, { keys, resourceId: PG.clusterId })).events.length;
        return n;
      };
      const runPool = (pool: RecordPool) => async (from: number, to: number) => {
        let next = from;
        const counts = await Promise.all(
          Array.from({ length: POOL_CONCURRENCY }, async () => {
            let n = 0;
            while (next < to) {
              const i = next++;
              const outcome = await processRecord({ data: envelopes[i]!, position: { source: stream, sequenceNumber: String(i + 1) }, resourceId: PG.clusterId }, { keys, workers: pool });
              n += outcome.batch?.events.length ?? 0;
            }
            return n;
          }),
        );
        return counts.reduce((a, b) => a + b, 0);
      };
      const replay = async (extra: string[]) => {
        const io = { stdout: new Writable({ write: (_c, _e, cb) => cb() }), stderr: new PassThrough().resume() as unknown as NodeJS.WriteStream, stdin: Readable.from([]), env: { NO_COLOR: '1' } };
        const code = await (await compiledCli()).main(['replay', file, '--key-file', 'samples/demo-master-key.json', '--output', 'jsonl', '--quiet', ...extra], io);
        if (code !== 0) throw new Error(`bench: replay ${extra.join(' ')} exited ${code}`);
      };
      // replay: the whole file each time, main thread and --workers 1, 2, and the main thread with the pack's
      // correlation rules turned off (their share of replay's time).
      const replays = [['--workers', '0'], ...WORKERS.map((w) => ['--workers', String(w)]), ['--workers', '0', '--rules', 'rules', '--rules', statelessOnly]];
      // Warm-up of every path (JIT, workers started), each replay among them: the main thread's rule path is compiled
      // before any replay is timed (a --workers N run starts its workers afresh, as every user's run does). Then the
      // floor, decode and the pools take turns on blocks of records (the first of each block rotating), so that a
      // change of load on a shared machine hits them alike.
      const paths = [runFloor, runDecode, ...[...pools.values()].map(runPool)];
      for (const run of paths) check('warm-up', await run(0, records));
      for (const extra of replays) await replay(extra);
      const block = Math.max(POOL_CONCURRENCY * 2, Math.ceil(records / 20));
      const secs = paths.map(() => 0);
      const counted = paths.map(() => 0);
      for (let from = 0, turn = 0; from < records; from += block, turn++) {
        for (let k = 0; k < paths.length; k++) {
          const j = (k + turn) % paths.length;
          secs[j]! += await seconds(async () => (counted[j]! += await paths[j]!(from, Math.min(records, from + block))));
        }
      }
      counted.forEach((n) => check('timed pass', n));
      const [floorSecs, decodeSecs, ...poolSecs] = secs as [number, number, ...number[]];
      // The replays twice, the second round in reverse order.
      const replayTotals = replays.map(() => 0);
      for (const order of [[0, 1, 2], [2, 1, 0]]) {
        for (const j of order) replayTotals[j]! += await seconds(() => replay(replays[j]!));
      }
      const [replaySecs, w1Secs, w2Secs] = replayTotals.map((t) => t / 2) as [number, number, number];
      const replayWorkerSecs = [w1Secs, w2Secs];
      // The correlations' share: SHARE_PAIRS pairs of main-thread replays, with and without them, back to back (the
      // first of a pair alternating), and the median of the pairs' shares: one pair's share swung by +-15 points.
      const shares: number[] = [];
      for (let k = 0; k < SHARE_PAIRS; k++) {
        const pair = k % 2 === 0 ? [0, 3] : [3, 0];
        const t: Record<number, number> = {};
        for (const j of pair) t[j] = await seconds(() => replay(replays[j]!));
        shares.push(1 - t[3]! / t[0]!);
      }
      const correlationShare = percentile(shares.sort((a, b) => a - b), 50);

      const label = `${fmt(perRecord)} events/record`;
      decodeEventsPerSec.push(total / decodeSecs);
      floor.push([label, fmt(records), fmt(total / floorSecs), fmt(total / decodeSecs), `${Math.round((100 * floorSecs) / decodeSecs)}%`, fmt(total / replaySecs), `${Math.round((100 * floorSecs) / replaySecs)}%`, `${Math.round(100 * correlationShare)}%`]);
      const scale = (label2: string, mainSecs: number, secs: number[]) => [
        `${label2}, ${label}`,
        fmt(total / mainSecs),
        ...WORKERS.flatMap((w, i) => [`${fmt(total / secs[i]!)} (${fmt(perCore(total / secs[i]!, w))})`, `${(mainSecs / secs[i]!).toFixed(2)}x`]),
      ];
      workers.push(scale('decode', decodeSecs, poolSecs), scale('replay', replaySecs, replayWorkerSecs));
      // The ceiling: two main-thread replays in their own processes at once, nothing shared, against one alone; and
      // one with --workers 2, the same way (start-up included in each). Alone, pair, pair, alone (and the workers).
      const alone: number[] = [];
      const pair: number[] = [];
      const withWorkers: number[] = [];
      for (const turn of ['alone', 'pair', 'workers', 'workers', 'pair', 'alone'] as const) {
        if (turn === 'alone') alone.push(await childReplay(file, ['--workers', '0']));
        else if (turn === 'workers') withWorkers.push(await childReplay(file, ['--workers', '2']));
        else pair.push(Math.max(...(await Promise.all([childReplay(file, ['--workers', '0']), childReplay(file, ['--workers', '0'])]))));
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const [a, p, w] = [mean(alone), mean(pair), mean(withWorkers)];
      ceiling.push([label, `${a.toFixed(2)} s`, `${p.toFixed(2)} s`, `${((2 * a) / p).toFixed(2)}x`, `${w.toFixed(2)} s`, `${(a / w).toFixed(2)}x`]);
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  }
  return { floor, workers, ceiling, decodeEventsPerSec };
}

export const FLOOR_NOTES = [
  'floor = key import + ECDSA verify + data key unwrap + HKDF + AES-GCM (header, frames) + gunzip + JSON.parse, on the',
  'same messages, nothing else; decode = decodeRecord() (envelope, data key, decryptPayload, gunzip, parse, normalise);',
  'replay = dasguard replay --output jsonl with the baseline rules. All on one core (the main thread). Correlations\' share',
  '= 1 - replay time with the pack\'s correlation rules turned off (overrides enabled: false) / replay time with them,',
  `the median of ${SHARE_PAIRS} pairs run back to back.`,
];
export const WORKER_NOTES = [
  `--workers N: decode: decrypt, gunzip, parse, normalise in N worker threads, ${POOL_CONCURRENCY} records in flight, the events`,
  `sent back; replay: also the stateless rules there, only alerts and correlation inputs sent back, the correlations on`,
  `the main thread in record order. (per core) = events/s / min(N + 1, ${CORES} cores): the main thread works too.`,
];
export const CEILING_NOTES = [
  '2 replays at once = two `dasguard replay --workers 0` of the file in their own processes (child processes, start-up',
  'included), nothing shared; x one = 2 x the time of one alone / the time of the pair: the most 2 cores give this work,',
  'since one process already keeps the second core partly busy (V8 compiles and collects garbage on threads of its own).',
];
