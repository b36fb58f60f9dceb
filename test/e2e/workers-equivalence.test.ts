/**
 * `--workers N` changes where the work runs, never what comes out: the committed corpora of real database traffic
 * (test/corpus/: PostgreSQL 15 + pgaudit, MariaDB + server_audit; 122,000 events with incidents that raise stateless
 * and correlation alerts, MySQL statement halves), encrypted like Aurora's records with poison records among them,
 * replayed on the main thread and with workers: the same alerts with the same ids in the same order, byte for byte,
 * the same quarantined records with the same reasons and messages, the same counts. And the ids are those a replay of
 * the plaintext corpus gives (where a record was decrypted does not enter an id).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { encodeCompressedPayload, encodeRecord } from '../../src/codec/encode.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { jsonLines, runCli } from '../support/cli.js';

const KEY = 'samples/demo-master-key.json';

interface Corpus {
  name: string;
  plaintext: string;
  encrypted: string;
}

let dir: string;
const corpora: Corpus[] = [];

/** The corpus's plaintext records encrypted, in order, with four poison records spread among them. */
async function encryptCorpus(name: string): Promise<Corpus> {
  const keys = LocalKeyProvider.fromFile(KEY);
  const text = gunzipSync(readFileSync(join('test', 'corpus', name, 'events.jsonl.gz'))).toString('utf8');
  const envelopes = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { version: string; databaseActivityEvents: { clusterId: string; instanceId: string; databaseActivityEventList: unknown[] } });
  const resourceId = envelopes[0]!.databaseActivityEvents.clusterId;
  const stream = `aws-rds-das-${resourceId}`;
  const version = envelopes[0]!.version;
  const lines: string[] = [];
  const put = (data: Uint8Array) =>
    lines.push(JSON.stringify({ StreamName: stream, ShardId: 'shardId-000000000000', SequenceNumber: String(100_000 + lines.length), Data: Buffer.from(data).toString('base64') }));
  const every = Math.max(1, Math.floor(envelopes.length / 5));
  for (const [i, env] of envelopes.entries()) {
    const p = env.databaseActivityEvents;
    put(await encodeRecord({ clusterId: p.clusterId, instanceId: p.instanceId, databaseActivityEventList: p.databaseActivityEventList }, { resourceId, version: env.version, wrapper: keys }));
    const poison = i % every === every - 1 ? Math.floor(i / every) : -1;
    const opts = { resourceId, version, wrapper: keys };
    if (poison === 0) {
      // a tampered payload: the signature check fails
      const e = JSON.parse(Buffer.from(await encodeRecord({ clusterId: p.clusterId, instanceId: p.instanceId, databaseActivityEventList: [] }, opts)).toString('utf8')) as Record<string, string>;
      const payload = Buffer.from(e.databaseActivityEvents!, 'base64');
      payload[Math.floor(payload.length / 2)]! ^= 0x40;
      e.databaseActivityEvents = payload.toString('base64');
      put(Buffer.from(JSON.stringify(e)));
    } else if (poison === 1) put(await encodeCompressedPayload(Buffer.from('not gzip at all'), opts));
    else if (poison === 2) put(await encodeCompressedPayload(gzipSync('{"type": "DatabaseActivityMonitoringRecord", "data'), opts));
    else if (poison === 3) {
      // good events around one that is not an object: the event alone is quarantined
      const list = [...p.databaseActivityEventList.slice(0, 2), 'not an event', ...p.databaseActivityEventList.slice(2, 4)];
      put(await encodeRecord({ clusterId: p.clusterId, instanceId: p.instanceId, databaseActivityEventList: list }, opts));
    }
  }
  const plaintext = join(dir, `${name}-plaintext.jsonl`);
  writeFileSync(plaintext, text);
  const encrypted = join(dir, `${stream}.jsonl`);
  writeFileSync(encrypted, lines.join('\n') + '\n');
  return { name, plaintext, encrypted };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dasguard-workers-eq-'));
  for (const name of ['postgresql', 'mysql']) corpora.push(await encryptCorpus(name));
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function replay(file: string, extra: string[], tag: string) {
  const quarantine = join(dir, `q-${tag}.jsonl`);
  const r = await runCli(['replay', file, '--key-file', KEY, '--output', 'jsonl', '--quarantine-file', quarantine, ...extra]);
  return { ...r, quarantined: readFileSync(quarantine, 'utf8') };
}

/** The summary without what differs by design: the time, the rates, and the line about the worker threads (asserted apart). */
function counts(stderr: string): string {
  return stderr
    .replace(/ in [0-9.]+ ?m?s\b.*$/gm, '')
    .replace(/[0-9,.]+ (records|events)\/s/g, '')
    .replace(/^  \d+ worker threads?: .*\n/m, '');
}

describe('--workers: the same output as the main thread on the real-traffic corpora, encrypted, with poison records', () => {
  for (const name of ['postgresql', 'mysql']) {
    it(`${name}: alerts, ids, order, quarantine reasons and counts are identical with --workers 0, 1 and 2`, async () => {
      const c = corpora.find((x) => x.name === name)!;
      const main = await replay(c.encrypted, ['--workers', '0'], `${name}-0`);
      assert.equal(main.code, 0, main.stderr);
      const alerts = jsonLines(main.stdout);
      assert.ok(alerts.length > 30, `the corpus raises alerts (${alerts.length})`);
      assert.ok(alerts.some((a) => (a.event as Record<string, unknown>).correlation !== undefined), 'correlation alerts among them');
      const reasons = jsonLines(main.quarantined).map((q) => q.reason);
      assert.deepEqual([...new Set(reasons)].sort(), ['bad-event', 'not-gzip', 'payload-decrypt-failed', 'payload-not-json']);
      for (const workers of ['1', '2']) {
        const pooled = await replay(c.encrypted, ['--workers', workers, '--concurrency', '16'], `${name}-${workers}`);
        assert.equal(pooled.code, 0, pooled.stderr);
        assert.equal(pooled.stdout, main.stdout, `--workers ${workers}: the same alert lines`);
        assert.equal(pooled.quarantined, main.quarantined, `--workers ${workers}: the same quarantine entries`);
        assert.equal(counts(pooled.stderr), counts(main.stderr), `--workers ${workers}: the same summary`);
        const num = (re: RegExp) => Number(re.exec(pooled.stderr)?.[1]?.replace(/,/g, '') ?? NaN);
        const inWorkers = num(/^  \d+ worker threads?: ([0-9,]+) records? processed in/m);
        const records = num(/^dasguard replay: ([0-9,]+) records/m);
        // How many is up to how soon a worker compiled the rules (until then the main thread takes the records).
        assert.ok(inWorkers >= 0 && inWorkers <= records, `--workers ${workers}: the summary says how many of the ${records} records the workers processed (${inWorkers})`);
      }
      // Where the records were decrypted does not enter an alert's id: the plaintext corpus gives the same ids.
      const plain = await runCli(['replay', c.plaintext, '--output', 'jsonl', '--quiet']);
      assert.equal(plain.code, 0, plain.stderr);
      assert.deepEqual(alerts.map((a) => a.id), jsonLines(plain.stdout).map((a) => a.id));
    });
  }
});
