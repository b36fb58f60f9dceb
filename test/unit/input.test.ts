import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { expandInputPaths, inputBytes, readInputs, type InputItem } from '../../src/input/readInputs.js';
import { JsonValueScanner } from '../../src/input/jsonScanner.js';
import { Base64Data, decodeBase64Field } from '../../src/codec/base64.js';
import { processRecord } from '../../src/pipeline/processRecord.js';

const RID = 'cluster-ABCDEFGHIJKLMNOP';
const plain = (n: number) => ({
  type: 'DatabaseActivityMonitoringRecords',
  version: '1.1',
  databaseActivityEvents: { type: 'DatabaseActivityMonitoringRecord', clusterId: RID, instanceId: 'db-X', databaseActivityEventList: [{ type: 'record', n }] },
});
const kin = (i: number, extra: Record<string, unknown> = {}) => ({
  SequenceNumber: `4960${i}`,
  PartitionKey: 'db-X',
  ApproximateArrivalTimestamp: 1760432400.5,
  Data: Buffer.from(JSON.stringify({ n: i })).toString('base64'),
  ...extra,
});

async function collect(paths: string[], opts = {}): Promise<InputItem[]> {
  const out: InputItem[] = [];
  for await (const item of readInputs(paths, opts)) out.push(item);
  return out;
}

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dasguard-input-'));
}

test('JSON Lines of Kinesis records: data decoded, positions with line and sequence number', async () => {
  const dir = await tmp();
  const f = join(dir, `aws-rds-das-${RID}.jsonl`);
  await writeFile(f, [kin(1), kin(2)].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const items = await collect([f]);
  assert.equal(items.length, 2);
  const a = items[0]!;
  const b = items[1]!;
  assert.equal(a.kind, 'record');
  if (a.kind !== 'record' || b.kind !== 'record') return;
  assert.ok(a.record.data instanceof Base64Data, 'decoded with the record (its size limit and strictness in one place)');
  assert.deepEqual(JSON.parse(decodeBase64Field(a.record.data.text, 'x').toString()), { n: 1 });
  assert.deepEqual(a.record.position, { source: f, line: 1, sequenceNumber: '49601' });
  assert.equal(b.record.position.line, 2);
  // the resource id comes from the stream name in the file name
  assert.equal(a.record.resourceId, RID);
  assert.equal(a.record.arrivalTime, 1760432400500);
});

test('a bad line is reported with its line number and the rest is read', async () => {
  const dir = await tmp();
  const f = join(dir, 'dump.jsonl');
  await writeFile(f, [JSON.stringify(kin(1)), 'this is not json', '{"Data": "abc', JSON.stringify(kin(3)), JSON.stringify({ Data: '@@@notbase64' }), JSON.stringify({ foo: 1 })].join('\n'));
  const items = await collect([f]);
  assert.deepEqual(
    items.map((i) => (i.kind === 'bad' ? `bad:${i.position.line}:${i.reason}` : `ok:${i.record.position.line}`)),
    ['ok:1', 'bad:2:not-json', 'bad:3:not-json', 'ok:4', 'ok:5', 'bad:6:bad-envelope'],
  );
  // Not base64: quarantined when the record is decoded, with its line.
  const notBase64 = items[4]!;
  assert.ok(notBase64.kind === 'record');
  const outcome = await processRecord(notBase64.record, {});
  assert.deepEqual(outcome.quarantined.map((q) => [q.position.line, q.reason]), [[5, 'bad-base64']]);
});

test('JSON Lines whose first line is not JSON: that line is quarantined once, by file:line, and the lines after it are read', async () => {
  const dir = await tmp();
  const good = [JSON.stringify(kin(1)), JSON.stringify(kin(2))];
  const shape = (items: InputItem[]) => items.map((i) => (i.kind === 'bad' ? `bad:${i.position.source}:${i.position.line}:${i.reason}` : `ok:${i.record.position.line}`));
  for (const first of [
    'this is not json', // junk
    '[INFO] capture started', // a log line that opens like an array (it used to open a document: quarantined twice)
    '{"Data": "cut short', // a string cut short
    '{"Data": 1, "SequenceNumber": ', // a value cut short (it used to swallow every line after it)
    '{"Data": "eA==", oops}', // one complete value that is not JSON
  ]) {
    const f = join(dir, 'first-bad.jsonl');
    await writeFile(f, [first, '', ...good].join('\n') + '\n');
    const items = await collect([f]);
    assert.deepEqual(shape(items), [`bad:${f}:1:not-json`, 'ok:3', 'ok:4'], first);
    assert.equal((items[0] as { raw?: string }).raw, first);
    assert.match((items[0] as { message: string }).message, /^not JSON: /);
    // Without a newline at the end, and as the only line.
    await writeFile(f, [first, ...good].join('\n'));
    assert.deepEqual(shape(await collect([f])), [`bad:${f}:1:not-json`, 'ok:2', 'ok:3'], `${first} (no final newline)`);
    await writeFile(f, first);
    assert.deepEqual(shape(await collect([f])), [`bad:${f}:1:not-json`], `${first} (alone)`);
  }
  // Multi-line documents are still told apart by their first line: an opening bracket, several values on the line,
  // an array that goes on, or a value that goes on over a next line that is not JSON by itself.
  const docs: [string, string, string[]][] = [
    ['pretty-printed', JSON.stringify([kin(1), kin(2)], null, 2), ['ok:2', 'ok:8']],
    ['values on one line', `${good[0]}${good[1]}\n${JSON.stringify(kin(3))}`, ['ok:1', 'ok:1', 'ok:2']],
    ['an array over lines', `[${good[0]},\n${good[1]}]`, ['ok:1', 'ok:2']],
    ['an object over lines', `{"Records": [${good[0]},\n${good[1]}]}`, ['ok:1', 'ok:1']],
  ];
  for (const [what, text, expected] of docs) {
    const f = join(dir, 'doc.json');
    await writeFile(f, text + '\n');
    assert.deepEqual(shape(await collect([f])), expected, what);
  }
});

test('aws kinesis get-records output, pretty-printed, several documents, with ShardId/StreamName', async () => {
  const dir = await tmp();
  const f = join(dir, 'get-records.json');
  const doc = (from: number) => JSON.stringify({ Records: [kin(from, { StreamName: `aws-rds-das-${RID}` }), kin(from + 1)], NextShardIterator: 'AAAA', MillisBehindLatest: 0 }, null, 2);
  await writeFile(f, doc(1) + '\n' + doc(3) + '\n');
  const items = await collect([f]);
  assert.equal(items.length, 4);
  assert.ok(items.every((i) => i.kind === 'record'));
  const recs = items.map((i) => (i.kind === 'record' ? i.record : undefined)!);
  assert.deepEqual(recs.map((r) => r.position.index), [0, 1, 0, 1]);
  assert.equal(recs[0]!.position.line, 1);
  assert.ok(recs[2]!.position.line! > 1, 'the second document starts further down');
  assert.equal(recs[0]!.resourceId, RID, 'StreamName gives the resource id');
  assert.equal(recs[1]!.resourceId, undefined, 'no stream name, no file name hint: unknown');
});

test('plaintext DAS JSON: envelope, bare record, pretty-printed array; --resource-id overrides', async () => {
  const dir = await tmp();
  const f = join(dir, 'plain.json');
  await writeFile(f, JSON.stringify([plain(1), plain(2).databaseActivityEvents], null, 2));
  const items = await collect([f], { resourceId: 'cluster-OVERRIDE' });
  assert.equal(items.length, 2);
  for (const i of items) {
    assert.equal(i.kind, 'record');
    if (i.kind === 'record') {
      assert.equal(typeof i.record.data, 'object');
      assert.equal(i.record.resourceId, 'cluster-OVERRIDE');
    }
  }
});

test('a Lambda Kinesis event: data, sequence number, shard and resource id from eventSourceARN', async () => {
  const dir = await tmp();
  const f = join(dir, 'lambda-event.json');
  await writeFile(
    f,
    JSON.stringify({
      Records: [
        {
          kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'db-X', sequenceNumber: '4959', data: Buffer.from('{}').toString('base64'), approximateArrivalTimestamp: 1760432400.25 },
          eventSource: 'aws:kinesis',
          eventID: 'shardId-000000000003:4959',
          eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-${RID}`,
        },
      ],
    }),
  );
  const item = (await collect([f]))[0]!;
  assert.equal(item.kind, 'record');
  if (item.kind !== 'record') return;
  assert.equal(item.record.resourceId, RID);
  assert.equal(item.record.position.shardId, 'shardId-000000000003');
  assert.equal(item.record.position.sequenceNumber, '4959');
});

test('gzip input, directories (recursive, sorted, non-input files skipped) and stdin', async () => {
  const dir = await tmp();
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'b.jsonl.gz'), gzipSync(JSON.stringify(kin(2)) + '\n'));
  await writeFile(join(dir, 'a.jsonl'), JSON.stringify(kin(1)) + '\n');
  await writeFile(join(dir, 'sub', 'c.json'), JSON.stringify(kin(3)));
  await writeFile(join(dir, 'notes.md'), '# not an input');
  const items = await collect([dir]);
  assert.deepEqual(
    items.map((i) => (i.kind === 'record' ? i.record.position.sequenceNumber : 'bad')),
    ['49601', '49602', '49603'],
  );
  const stdin = Readable.from([Buffer.from(JSON.stringify(kin(9)) + '\n' + JSON.stringify(kin(10)))]);
  const fromStdin = await collect(['-'], { stdin });
  assert.deepEqual(fromStdin.map((i) => (i.kind === 'record' ? i.record.position.source + ':' + i.record.position.line : 'bad')), ['stdin:1', 'stdin:2']);
});

test('missing inputs are all named at once', async () => {
  await assert.rejects(collect(['/nonexistent/one', '/nonexistent/two']), /input not found: \/nonexistent\/one, \/nonexistent\/two/);
});

test('inputBytes sizes the inputs as they will be read: a gzip file by its content, a directory by its files, stdin and a pipe as unknown', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dasguard-plan-'));
  const text = Array.from({ length: 400 }, (_v, i) => JSON.stringify(kin(i))).join('\n') + '\n';
  await mkdir(join(dir, 'd'));
  await writeFile(join(dir, 'd', 'a.jsonl'), text);
  const gz = gzipSync(text);
  assert.ok(gz.length < text.length / 2, 'the test content compresses');
  await writeFile(join(dir, 'd', 'b.jsonl.gz'), gz);
  const files = await expandInputPaths([join(dir, 'd')]);
  assert.deepEqual(files, [join(dir, 'd', 'a.jsonl'), join(dir, 'd', 'b.jsonl.gz')]);
  assert.equal(await inputBytes(files), 2 * Buffer.byteLength(text), 'the gzip file counts what it holds, not its compressed size');
  assert.equal(await inputBytes([join(dir, 'd', 'a.jsonl'), '-']), undefined);
  // A pipe's size is not known before it is read, and sizing it takes none of its bytes.
  const fifo = join(dir, 'pipe.jsonl');
  execFileSync('mkfifo', [fifo]);
  assert.equal(await inputBytes([fifo]), undefined);
  const [, got] = await Promise.all([writeFile(fifo, text), collect([fifo])]);
  assert.equal(got.filter((i) => i.kind === 'record').length, 400);
});

test('the scanner splits values across arbitrary chunk boundaries, with line numbers', () => {
  const text = '{"a": "x}y\\"z"}\n[1, {"b": [2, 3]},\n "s"]\n  {"c": null}  true\n';
  for (let size = 1; size <= text.length; size++) {
    const sc = new JsonValueScanner();
    const vals = [];
    for (let i = 0; i < text.length; i += size) vals.push(...sc.push(text.slice(i, i + size)));
    vals.push(...sc.end());
    assert.deepEqual(
      vals.map((v) => [v.text, v.line, v.index]),
      [
        ['{"a": "x}y\\"z"}', 1, undefined],
        ['1', 2, 0],
        ['{"b": [2, 3]}', 2, 1],
        ['"s"', 3, 2],
        ['{"c": null}', 4, undefined],
        ['true', 4, undefined],
      ],
      `chunk size ${size}`,
    );
  }
});

test('the scanner reports a truncated document instead of losing it silently', () => {
  const sc = new JsonValueScanner();
  const vals = [...sc.push('{"Records": [{"Data": "abc"}'), ...sc.end()];
  assert.equal(vals.length, 1);
  assert.match(vals[0]!.error!, /truncated/);
});

test('a gzip input cut short: the records before the break are read, then one bad item says where it broke (not an internal error)', async () => {
  const dir = await tmp();
  const f = join(dir, 'dump.jsonl.gz');
  const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify(kin(i + 1))).join('\n') + '\n';
  const gz = gzipSync(lines);
  await writeFile(f, gz.subarray(0, Math.floor(gz.length * 0.6)));
  const items = await collect([f]);
  const records = items.filter((i) => i.kind === 'record');
  assert.ok(records.length > 10 && records.length < 200, `${records.length} records before the break`);
  const last = items.at(-1)!;
  assert.ok(last.kind === 'bad', 'the break is reported');
  assert.equal(last.reason, 'not-gzip');
  assert.match(last.message, /the gzip input is damaged or cut short after line \d+ \(unexpected end of file\)/);
  assert.equal(last.position.source, f);
});
