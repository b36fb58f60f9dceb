/**
 * Kinesis for tests and benchmarks: kinesalite (a real Kinesis implementation) in-process or in a child process,
 * the real @aws-sdk/client-kinesis in front of it, and a fault proxy that answers throttling errors and 500s for
 * a while before forwarding. Loopback only; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  SplitShardCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord } from '../../src/codec/encode.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertHandoff } from '../../src/pipeline/AlertHandoff.js';
import { loadRules, type RuleSet } from '../../src/rules/index.js';
import { PG, benchRecords } from '../../scripts/sampleData.js';
import { jsonLines, runCli } from './cli.js';

const require = createRequire(import.meta.url);

interface KinesaliteServer {
  listen(port: number, host: string, cb: () => void): void;
  address(): AddressInfo;
  close(cb: (err?: Error) => void): void;
}
type KinesaliteFactory = (opts: Record<string, unknown>) => KinesaliteServer;

export const FAKE_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret-test' } as const;
export const REGION = 'us-east-1';

export interface Kinesalite {
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

/** kinesalite in this process (tests). */
export async function startKinesalite(): Promise<Kinesalite> {
  const kinesalite = require('kinesalite') as KinesaliteFactory;
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))) };
}

/** kinesalite in a child process (benchmarks: it must not share the consumer's core). */
export async function startKinesaliteProcess(): Promise<Kinesalite & { child: ChildProcess }> {
  const script =
    "const k = require('kinesalite')({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100});" +
    "k.listen(0, '127.0.0.1', () => console.log(k.address().port));";
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('kinesalite did not start within 10 s')), 10_000);
    child.once('error', reject);
    child.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The real SDK client against a loopback endpoint (kinesalite speaks HTTP/1.1 only). */
export function kinesisClient(url: string): KinesisClient {
  return new KinesisClient({ endpoint: url, region: REGION, credentials: FAKE_CREDENTIALS, requestHandler: new NodeHttpHandler() });
}

/** Environment for a child `dasguard run` talking to loopback services. */
export function loopbackEnv(urls: { kinesis?: string; kms?: string; rds?: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    NO_COLOR: '1',
  };
  delete env.AWS_PROFILE;
  if (urls.kinesis) env.AWS_ENDPOINT_URL_KINESIS = urls.kinesis;
  if (urls.kms) env.AWS_ENDPOINT_URL_KMS = urls.kms;
  if (urls.rds) env.AWS_ENDPOINT_URL_RDS = urls.rds;
  return env;
}

export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitActive(client, name);
}

export async function waitActive(client: KinesisClient, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

export async function listShards(client: KinesisClient, name: string): Promise<Shard[]> {
  const out = await client.send(new ListShardsCommand({ StreamName: name }));
  return out.Shards ?? [];
}

export interface PutResult {
  shardId: string;
  sequenceNumber: string;
}

/**
 * Puts records, `explicitHashKeys` spreading them over the hash-key space round-robin (so N shards of an evenly
 * split stream each get every N-th record). Returns where each landed, in order.
 */
export async function putRecords(client: KinesisClient, name: string, data: Uint8Array[], opts: { spread?: number } = {}): Promise<PutResult[]> {
  const spread = opts.spread ?? 2;
  const out: PutResult[] = [];
  for (let i = 0; i < data.length; i += 500) {
    const chunk = data.slice(i, i + 500);
    const res = await client.send(
      new PutRecordsCommand({
        StreamName: name,
        Records: chunk.map((d, j) => ({ Data: d, PartitionKey: `pk-${i + j}`, ExplicitHashKey: hashKeyFor((i + j) % spread, spread) })),
      }),
    );
    for (const r of res.Records ?? []) {
      if (r.ErrorCode) throw new Error(`PutRecords failed: ${r.ErrorCode} ${r.ErrorMessage}`);
      out.push({ shardId: r.ShardId!, sequenceNumber: r.SequenceNumber! });
    }
  }
  return out;
}

/** One record with PutRecord (for latency measurements). */
export async function putRecord(client: KinesisClient, name: string, data: Uint8Array, lane: number, spread: number): Promise<PutResult> {
  const r = await client.send(new PutRecordCommand({ StreamName: name, Data: data, PartitionKey: `pk-${lane}`, ExplicitHashKey: hashKeyFor(lane, spread) }));
  return { shardId: r.ShardId!, sequenceNumber: r.SequenceNumber! };
}

/** A hash key in the middle of lane `i` of `n` equal lanes of the 128-bit hash-key space. */
export function hashKeyFor(i: number, n: number): string {
  const lane = (1n << 128n) / BigInt(n);
  return (lane * BigInt(i) + lane / 2n).toString();
}

/** Splits a shard in the middle of its hash-key range and waits for the stream to be ACTIVE again. */
export async function splitShard(client: KinesisClient, name: string, shardId: string): Promise<void> {
  const shard = (await listShards(client, name)).find((s) => s.ShardId === shardId);
  if (!shard?.HashKeyRange) throw new Error(`no shard ${shardId}`);
  const lo = BigInt(shard.HashKeyRange.StartingHashKey!);
  const hi = BigInt(shard.HashKeyRange.EndingHashKey!);
  await client.send(new SplitShardCommand({ StreamName: name, ShardToSplit: shardId, NewStartingHashKey: ((lo + hi) / 2n).toString() }));
  await waitActive(client, name);
}

export interface FaultProxy {
  url: string;
  /** Requests answered with a fault so far. */
  readonly faultsServed: number;
  /** Requests forwarded so far. */
  readonly forwarded: number;
  /**
   * The next `n` requests of operation `op` (e.g. 'GetRecords'; default any) get `status` and `{"__type": type}`
   * instead of being forwarded.
   */
  fail(n: number, type: string, status: number, op?: string): void;
  close(): Promise<void>;
}

/** A loopback HTTP proxy in front of `target` injecting Kinesis error answers. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const faults: { remaining: number; type: string; status: number; op: string | undefined }[] = [];
  let faultsServed = 0;
  let forwarded = 0;
  const t = new URL(target);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1];
      const fault = faults.find((f) => f.remaining > 0 && (f.op === undefined || f.op === op));
      if (fault) {
        fault.remaining--;
        faultsServed++;
        const body = JSON.stringify({ __type: fault.type, message: `injected ${fault.type}` });
        res.writeHead(fault.status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      forwarded++;
      const up = request(
        { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get faultsServed() {
      return faultsServed;
    },
    get forwarded() {
      return forwarded;
    },
    fail(n, type, status, op) {
      faults.push({ remaining: n, type, status, op });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `cond` every 20 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The "caught up" signal of the negative checks: every shard that got one of `puts` reports (in the consumer's
 * status: `stats().shards`, or `run`'s status line) the last of them as processed and handed off. A record read
 * again from a wrong start position comes before that, so once it holds, nothing more can show up.
 */
export function readToLatest(shards: readonly { shardId: string; sequenceNumber: string | null }[], puts: readonly PutResult[]): boolean {
  const last = new Map<string, string>();
  for (const p of puts) last.set(p.shardId, p.sequenceNumber);
  return [...last].every(([shardId, seq]) => shards.some((s) => s.shardId === shardId && s.sequenceNumber === seq));
}

// ---- Fixtures shared by the consumer and run tests: encrypted sample records, a rule firing on every event, replay.

export const KEY_FILE = 'samples/demo-master-key.json';
export const STREAM = `aws-rds-das-${PG.clusterId}`;
export const RESOURCE_ID = PG.clusterId;

export const EVERY_EVENT_RULE = `rules:
  - id: test-every-event
    description: Fires on every activity event (tests).
    severity: info
    when:
      engine: [postgresql, mysql, oracle, sqlserver, unknown]
`;

export function tempDir(prefix = 'dasguard-consumer-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A rules directory holding the every-event rule. */
export function everyEventRules(): string {
  const dir = tempDir('dasguard-rules-');
  writeFileSync(join(dir, 'every.yaml'), EVERY_EVENT_RULE);
  return dir;
}

export async function ruleSetFrom(paths: string[]): Promise<RuleSet> {
  const { ruleSet, problems } = await loadRules(paths);
  if (!ruleSet) throw new Error(`rules did not load: ${JSON.stringify(problems)}`);
  return ruleSet;
}

export function demoKeys(): LocalKeyProvider {
  return LocalKeyProvider.fromFile(KEY_FILE);
}

/** `n` encrypted records of `perRecord` PostgreSQL events (distinct seeds give distinct events). */
export async function encryptedRecords(n: number, perRecord = 3, seed = 7): Promise<Uint8Array[]> {
  const keys = demoKeys();
  const out: Uint8Array[] = [];
  for (const r of benchRecords(n, perRecord, seed)) out.push(await encodeRecord(r, { resourceId: PG.clusterId, version: PG.version, wrapper: keys }));
  return out;
}

/** Alert ids `dasguard replay` gives for these records (written to a file as Kinesis records). */
export async function replayAlertIds(data: Uint8Array[], rules: string[]): Promise<string[]> {
  const dir = tempDir('dasguard-replay-');
  const file = join(dir, 'records.jsonl');
  writeFileSync(file, data.map((d, i) => JSON.stringify({ SequenceNumber: String(i + 1), PartitionKey: 'pk', Data: Buffer.from(d).toString('base64') })).join('\n') + '\n');
  const args = ['replay', file, '--key-file', KEY_FILE, '--resource-id', RESOURCE_ID, '--output', 'jsonl', '-q'];
  for (const r of rules) args.push('--rules', r);
  const res = await runCli(args);
  if (res.code !== 0) throw new Error(`replay failed (${res.code}): ${res.stderr}`);
  return jsonLines(res.stdout).map((a) => a.id as string).sort();
}

/** Keeps every alert handed off, in order. */
export class RecordingHandoff implements AlertHandoff {
  readonly alerts: Alert[] = [];
  calls = 0;
  async handOff(alerts: readonly Alert[]): Promise<void> {
    this.calls++;
    this.alerts.push(...alerts);
  }
  async close(): Promise<void> {}
  ids(): string[] {
    return this.alerts.map((a) => a.id).sort();
  }
}
