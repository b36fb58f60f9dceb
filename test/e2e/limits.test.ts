/**
 * Poison is quarantined, never a crash (issue 8, section 3): every input limit of src/limits.ts, each at its
 * boundary and past it, through the stage that enforces it, then end to end through the CLI. A crafted record
 * (nested 5,000 levels deep, over the Kinesis record size, a gzip bomb, a line of 64 MiB, alerts too large for the
 * outbox) is quarantined with its reason and position, and everything around it is processed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { decodeBase64Strict } from '../../src/codec/base64.js';
import { decodeRecord, decryptAndGunzip } from '../../src/codec/decode.js';
import { encodeRecord } from '../../src/codec/encode.js';
import { RecordPool } from '../../src/pipeline/workers/RecordPool.js';
import { encryptPayload } from '../../src/codec/payload.js';
import { parseDeliveryConfig } from '../../src/delivery/config.js';
import { DeliveryHandoff } from '../../src/delivery/DeliveryHandoff.js';
import { PoisonRecordError } from '../../src/errors.js';
import { LineSplitter, type Line } from '../../src/input/LineSplitter.js';
import { readInputs, type InputItem } from '../../src/input/readInputs.js';
import { encryptionContextFor } from '../../src/keys/KeyProvider.js';
import { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';
import { MAX_ALERT_BYTES, MAX_INPUT_VALUE_CHARS, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, MAX_RECORD_BYTES, formatBytes } from '../../src/limits.js';
import { processRecord } from '../../src/pipeline/processRecord.js';
import { PG, benchRecords } from '../../scripts/sampleData.js';
import { jsonLines, runCli } from '../support/cli.js';
import { everyEventRules, ruleSetFrom } from '../support/kinesis.js';
import { KEY_FILE, MiB, deepEventRecord, goodRecords, gzipBombRecord, kinesisLine, nested, nestedJson } from '../support/poison.js';

const keys = LocalKeyProvider.fromFile(KEY_FILE);
const ctx = { keys, resourceId: PG.clusterId };
const tmp = () => mkdtempSync(join(tmpdir(), 'dasguard-limits-'));

/** Base64 of `bytes` zero bytes (padded), as Kinesis would carry it. */
const base64Of = (bytes: number) => Buffer.alloc(bytes).toString('base64');

async function collect(paths: string[], opts = {}): Promise<InputItem[]> {
  const out: InputItem[] = [];
  for await (const item of readInputs(paths, opts)) out.push(item);
  return out;
}

/** What a user sees of each item: a record's line (and index), or a bad item's line, index and reason. */
function summary(items: InputItem[]): string[] {
  return items.map((i) => {
    const p = i.kind === 'record' ? i.record.position : i.position;
    const at = `${p.line ?? '-'}${p.index !== undefined ? `#${p.index}` : ''}`;
    return i.kind === 'record' ? `record ${at}` : `bad ${at} ${i.reason}`;
  });
}

async function poison(p: Promise<unknown>): Promise<PoisonRecordError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PoisonRecordError, `expected PoisonRecordError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the record to be quarantined');
}

/** A plaintext bare record with these events. */
const bare = (events: unknown[]) => ({ type: 'DatabaseActivityMonitoringRecord', clusterId: PG.clusterId, instanceId: PG.instanceId, databaseActivityEventList: events });
const plainLine = (n: number) => JSON.stringify(bare([{ type: 'record', serverType: 'PostgreSQL', n }]));

describe('nesting depth (MAX_JSON_DEPTH)', () => {
  it('an event nested 5,000 levels deep is quarantined alone (too-deep, its index); the other events of the record are kept', async () => {
    const batch = await decodeRecord(await deepEventRecord(5000, 3, 1), ctx);
    assert.equal(batch.events.length, 2);
    assert.equal(batch.rejected.length, 1);
    assert.equal(batch.rejected[0]!.index, 1);
    assert.equal(batch.rejected[0]!.poisonReason, 'too-deep');
    assert.match(batch.rejected[0]!.reason, new RegExp(`more than ${MAX_JSON_DEPTH} levels`));
  });

  it('the limit is exact: an event MAX_JSON_DEPTH levels deep is kept, one level more is quarantined', async () => {
    // The event object is level 1, paramList level 2: MAX_JSON_DEPTH - 1 nested arrays reach MAX_JSON_DEPTH levels.
    const batch = await decodeRecord(
      bare([
        { type: 'record', paramList: nested(MAX_JSON_DEPTH - 1) },
        { type: 'record', paramList: nested(MAX_JSON_DEPTH) },
        { type: 'heartbeat', extra: nested(MAX_JSON_DEPTH) },
      ]),
      {},
    );
    assert.equal(batch.events.length, 1);
    assert.deepEqual(batch.rejected.map((r) => [r.index, r.poisonReason]), [[1, 'too-deep'], [2, 'too-deep']]);
    assert.equal(batch.heartbeats.length, 0, 'a heartbeat too deep is quarantined too (decode --heartbeats prints it)');
  });

  it('a plaintext input document nested too deep is quarantined with its line (and index); the rest of the file is read', async () => {
    const dir = tmp();
    const lines = join(dir, 'plain.jsonl');
    writeFileSync(lines, [plainLine(1), JSON.stringify(bare([])).replace('[]', `[{"type":"record","x":${nestedJson(5000)}}]`), nestedJson(100_000), plainLine(2)].join('\n') + '\n');
    assert.deepEqual(summary(await collect([lines])), ['record 1', 'bad 2 too-deep', 'bad 3 too-deep', 'record 4']);
    const doc = join(dir, 'plain.json');
    writeFileSync(doc, `[\n  ${plainLine(1)},\n  {"type": "DatabaseActivityMonitoringRecord", "x": ${nestedJson(5000)}},\n  ${plainLine(2)}\n]\n`);
    assert.deepEqual(summary(await collect([doc])), ['record 2#0', 'bad 3#1 too-deep', 'record 4#2']);
  });

  it('an event at the limit is judged alike in plaintext and encrypted records: kept, and its deeper sibling quarantined alone', async () => {
    const f = join(tmp(), 'plain.jsonl');
    const envelope = bare([
      { type: 'record', dbUserName: 'kept', paramList: nested(MAX_JSON_DEPTH - 1) },
      { type: 'record', dbUserName: 'too deep', paramList: nested(MAX_JSON_DEPTH) },
    ]);
    writeFileSync(f, JSON.stringify(envelope) + '\n');
    const items = await collect([f]);
    assert.deepEqual(summary(items), ['record 1']);
    const outcome = await processRecord((items[0] as Extract<InputItem, { kind: 'record' }>).record, {});
    assert.deepEqual(outcome.batch?.events.map((e) => e.dbUserName), ['kept']);
    assert.deepEqual(outcome.quarantined.map((q) => [q.eventIndex, q.reason]), [[1, 'too-deep']]);
  });
});

describe('record size (MAX_RECORD_BYTES) and base64', () => {
  it('base64 is checked without a regex: 16 MiB of it decodes (the regex overflowed the stack)', () => {
    assert.equal(decodeBase64Strict('A'.repeat(16 * MiB))?.length, 12 * MiB);
  });

  it('strict base64: standard alphabet, padded, canonical, nothing else', () => {
    for (const ok of ['QQ==', 'QUI=', 'QUJD', 'QUJDRA==', '+/+/']) assert.ok(decodeBase64Strict(ok), ok);
    for (const bad of ['', 'QQ', 'QQ=', 'Q===', 'QQ==QQ==', 'QU I=', 'QUI=\n', '-_-_', 'QUJD!A==', 'QR==', 'QUJ=']) {
      assert.equal(decodeBase64Strict(bad), undefined, JSON.stringify(bad));
    }
  });

  it('a Kinesis record over MAX_RECORD_BYTES is quarantined as record-too-large before decoding, with its position; the next line is read', async () => {
    const dir = tmp();
    const f = join(dir, 'records.jsonl');
    const at = base64Of(MAX_RECORD_BYTES);
    const over = base64Of(MAX_RECORD_BYTES + 1);
    const good = (await goodRecords(1))[0]!;
    writeFileSync(f, [kinesisLine(good, '1'), kinesisLine(over, '2'), kinesisLine(at, '3'), kinesisLine(good, '4')].join('\n') + '\n');
    const items = await collect([f]);
    // Record data is decoded (size limit first) with the rest of the record's work: every line is a record item.
    assert.deepEqual(summary(items), ['record 1', 'record 2', 'record 3', 'record 4']);
    const outcomes = await Promise.all(items.map((i) => (i.kind === 'record' ? processRecord(i.record, { keys }) : undefined)));
    const reasons = outcomes.map((o) => o?.quarantined[0]?.reason ?? 'ok');
    assert.equal(reasons[0], 'ok');
    assert.equal(reasons[1], 'record-too-large');
    assert.notEqual(reasons[2], 'record-too-large', 'exactly at the limit: read on (it is not a DAS record, so not JSON)');
    assert.equal(reasons[3], 'ok');
    const q = outcomes[1]!.quarantined[0]!;
    assert.equal(q.position.sequenceNumber, '2');
    assert.match(q.message, /over the 10 MiB/);
  });

  it('a large legal record (a payload of 4.5 MB of base64 in 6 MB of Kinesis data) decodes, and its alert is capped', async () => {
    const record = benchRecords(1, 2, 9)[0]!;
    record.databaseActivityEventList[1]!.commandText = `SELECT '${randomBytes(3_400_000).toString('base64')}'`;
    const data = await encodeRecord(record, { resourceId: PG.clusterId, version: PG.version, wrapper: keys });
    const line = kinesisLine(data, '1');
    assert.ok(line.length > 6_000_000 && data.byteLength > 4_500_000, `${line.length} ${data.byteLength}`);
    const f = join(tmp(), 'big.jsonl');
    writeFileSync(f, line + '\n');
    const [item] = await collect([f]);
    assert.equal(item?.kind, 'record');
    const rules = await ruleSetFrom([everyEventRules()]);
    const out = await processRecord((item as Extract<InputItem, { kind: 'record' }>).record, { keys, rules, redaction: 'none' });
    assert.deepEqual(out.quarantined, []);
    assert.equal(out.alerts.length, 2);
    assert.equal(out.alerts[1]!.truncated, true);
    assert.ok(Buffer.byteLength(JSON.stringify(out.alerts[1])) <= MAX_ALERT_BYTES);
  });

  it('record data over MAX_RECORD_BYTES from Kinesis or Lambda is quarantined by the decoder too', async () => {
    const err = await poison(decodeRecord(new Uint8Array(MAX_RECORD_BYTES + 1), ctx));
    assert.equal(err.reason, 'record-too-large');
  });
});

describe('payload size (MAX_PAYLOAD_BYTES): a gzip bomb', () => {
  it('a signed, encrypted record whose payload expands to 256 MiB is quarantined as payload-too-large: decompression stops at the limit', async () => {
    const bomb = await gzipBombRecord(256 * MiB);
    assert.ok(bomb.byteLength < MiB, 'a valid Kinesis record');
    const err = await poison(decodeRecord(bomb, ctx));
    assert.equal(err.reason, 'payload-too-large');
    assert.match(err.message, /decompression stopped at 64 MiB/);
  });

  it('the limit is exact: a payload of MAX_PAYLOAD_BYTES is decompressed, one byte more is not', async () => {
    const dataKey = new Uint8Array(32).fill(7);
    const at = await encryptPayload(gzipSync(Buffer.alloc(MAX_PAYLOAD_BYTES, 0x20)), dataKey);
    assert.equal((await decryptAndGunzip(at, dataKey)).byteLength, MAX_PAYLOAD_BYTES);
    const over = await encryptPayload(gzipSync(Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20)), dataKey);
    assert.equal((await poison(decryptAndGunzip(over, dataKey))).reason, 'payload-too-large');
  });

  it('--workers: the worker pool quarantines the bomb with the same reason and message', async () => {
    const envelope = JSON.parse(Buffer.from(await gzipBombRecord(128 * MiB)).toString('utf8')) as { databaseActivityEvents: string; key: string };
    const message = Buffer.from(envelope.databaseActivityEvents, 'base64');
    const dataKey = await keys.getDataKey(Buffer.from(envelope.key, 'base64'), encryptionContextFor(PG.clusterId));
    const main = await poison(decryptAndGunzip(message, dataKey));
    const pool = new RecordPool({ workers: 1 });
    try {
      const inWorker = await poison(pool.decrypt(message, dataKey));
      assert.deepEqual([inWorker.reason, inWorker.message], [main.reason, main.message]);
      assert.equal(inWorker.reason, 'payload-too-large');
    } finally {
      await pool.close();
    }
  });
});

describe('input readers stay bounded (MAX_INPUT_VALUE_CHARS)', () => {
  it('the line splitter gives the same lines wherever the chunks end; a line over its limit comes back as its head only', () => {
    const text = 'short\n0123456789\n0123456789A\n\nlast-is-too-long-and-has-no-newline';
    const expected = ['short', '0123456789', { tooLong: '0123' }, '', { tooLong: 'last' }];
    for (let a = 0; a <= text.length; a++) {
      for (let b = a; b <= text.length; b++) {
        const s = new LineSplitter(10, 4);
        const got: Line[] = [];
        for (const chunk of [text.slice(0, a), text.slice(a, b), text.slice(b)]) {
          s.push(chunk);
          for (let l = s.next(); l !== undefined; l = s.next()) got.push(l);
        }
        const last = s.end();
        if (last !== undefined) got.push(last);
        assert.deepEqual(got, expected, `chunks end at ${a}, ${b}`);
      }
    }
  });

  const huge = MAX_INPUT_VALUE_CHARS + 1;
  /** `head`, then `n` characters of `fill` in 1 MiB chunks, then `tail`: never held whole. */
  function* stream(head: string, n: number, tail: string): Generator<Buffer> {
    yield Buffer.from(head);
    const chunk = Buffer.alloc(MiB, 'A');
    for (let left = n; left > 0; left -= MiB) yield left >= MiB ? chunk : chunk.subarray(0, left);
    yield Buffer.from(tail);
  }
  const line = (i: number) => JSON.stringify({ SequenceNumber: String(i), PartitionKey: 'p', Data: Buffer.from(plainLine(i)).toString('base64') });

  it('JSON Lines: a line over the limit is quarantined as value-too-large with its line; reading resumes at the next line', async () => {
    const stdin = Readable.from(stream(`${line(1)}\n{"Data":"`, huge, `"}\n${line(3)}\n`));
    assert.deepEqual(summary(await collect(['-'], { stdin })), ['record 1', 'bad 2 value-too-large', 'record 3']);
  });

  /** A plaintext record of exactly MAX_INPUT_VALUE_CHARS characters. */
  const exact = plainLine(3).replace('"n":3', `"n":3,"pad":"${'A'.repeat(MAX_INPUT_VALUE_CHARS - plainLine(3).length - 9)}"`);

  it('JSON Lines: the first line of the input over the limit, and a line exactly at the limit', async () => {
    assert.equal(exact.length, MAX_INPUT_VALUE_CHARS);
    const stdin = Readable.from(stream('{"Data":"', huge, `"}\n${line(2)}\n${exact}\n${line(4)}\n`));
    assert.deepEqual(summary(await collect(['-'], { stdin })), ['bad 1 value-too-large', 'record 2', 'record 3', 'record 4']);
  });

  it('gzip input that expands to such a line: the same, without holding the line', async () => {
    const f = join(tmp(), 'records.jsonl.gz');
    const mib = gzipSync(Buffer.alloc(MiB, 'A'));
    const parts = [gzipSync(`${line(1)}\n{"Data":"`), ...Array<Buffer>(Math.ceil(huge / MiB)).fill(mib), gzipSync(`"}\n${line(3)}\n`)];
    writeFileSync(f, Buffer.concat(parts));
    assert.deepEqual(summary(await collect([f])), ['record 1', 'bad 2 value-too-large', 'record 3']);
  });

  it('a JSON document: an array element over the limit is quarantined with its line and index; the next elements are read', async () => {
    const stdin = Readable.from(stream(`[\n${line(1)},\n{"Data": "`, huge, `"},\n${exact},\n${line(4)}\n]\n`));
    assert.deepEqual(summary(await collect(['-'], { stdin })), ['record 2#0', 'bad 3#1 value-too-large', 'record 4#2', 'record 5#3']);
  });

  it('get-records output: a document over the limit is quarantined with its line; the next document is read', async () => {
    const stdin = Readable.from(stream('{\n  "Records": [\n    {"SequenceNumber": "1", "Data": "', huge, `"}\n  ]\n}\n{\n  "Records": [\n    ${line(2)}\n  ]\n}\n`));
    assert.deepEqual(summary(await collect(['-'], { stdin })), ['bad 1 value-too-large', 'record 6#0']);
  });
});

describe('alert size (MAX_ALERT_BYTES)', () => {
  const hugeEvent = (sqlBytes: number) => ({
    ...benchRecords(1, 1, 5)[0]!.databaseActivityEventList[0]!,
    dbUserName: 'mallory',
    // identifiers, not literals: redaction leaves them, so the statement stays huge in every mode
    commandText: `SELECT ${'c, '.repeat(Math.ceil(sqlBytes / 3))}pan FROM cards WHERE pan = '4111111111111111'`,
    paramList: ['x'.repeat(1000)],
  });

  it('an alert is capped before it is queued: commandText is cut first and the alert says truncated; who and where are kept', async () => {
    const rules = await ruleSetFrom([everyEventRules()]);
    for (const redaction of ['literals', 'none'] as const) {
      const out = await processRecord({ data: bare([hugeEvent(2 * MiB)]), position: { source: 'test', line: 1 } }, { rules, redaction });
      assert.equal(out.alerts.length, 1);
      const a = out.alerts[0]!;
      assert.ok(Buffer.byteLength(JSON.stringify(a)) <= MAX_ALERT_BYTES, `${redaction}: ${Buffer.byteLength(JSON.stringify(a))} bytes`);
      assert.equal(a.truncated, true);
      assert.match(String(a.event.commandText), /^SELECT c, c, .*…\[truncated\]$/);
      assert.equal(a.event.dbUserName, 'mallory');
      assert.equal(a.event.clusterId, PG.clusterId);
    }
  });

  it("one record's huge alerts go into the outbox (there was `Invalid string length`), each within the cap", async () => {
    const dir = tmp();
    const rulesDir = tmp();
    const rule = (i: number) => `  - {id: every-${i}, description: every event, severity: info, when: {engine: postgresql}}\n`;
    writeFileSync(join(rulesDir, 'many.yaml'), `rules:\n${Array.from({ length: 20 }, (_, i) => rule(i)).join('')}`);
    const rules = await ruleSetFrom([rulesDir]);
    const out = await processRecord({ data: bare([hugeEvent(30 * MiB)]), position: { source: 'test', line: 1 } }, { rules, redaction: 'none' });
    assert.equal(out.alerts.length, 20);
    const sink = join(dir, 'alerts.jsonl');
    const { config } = parseDeliveryConfig('d.yaml', `sinks:\n  f: {type: file, path: ${sink}}\nroutes:\n  - {name: all, sinks: [f], redaction: none}\n`, {});
    const h = await DeliveryHandoff.open(config!, { outboxDir: join(dir, 'outbox'), stderr: new PassThrough() });
    await h.handOff(out.alerts);
    await h.close();
    const delivered = readFileSync(sink, 'utf8').trim().split('\n');
    assert.equal(delivered.length, 20);
    for (const l of delivered) assert.ok(Buffer.byteLength(l) <= MAX_ALERT_BYTES);
    assert.equal((JSON.parse(delivered[0]!) as { truncated: boolean }).truncated, true);
  });
});

describe('end to end: poison among good records', () => {
  it('replay: good records alert, a deep event, an oversize record and a gzip bomb are quarantined with reasons and positions; exit 0, --strict 1', async () => {
    const dir = tmp();
    const good = await goodRecords(2, 2);
    const f = join(dir, `aws-rds-das-${PG.clusterId}.jsonl`);
    writeFileSync(
      f,
      [
        kinesisLine(good[0]!, '1'),
        kinesisLine(await deepEventRecord(5000, 3, 1), '2'),
        kinesisLine(base64Of(MAX_RECORD_BYTES + 1), '3'),
        kinesisLine(await gzipBombRecord(256 * MiB), '4'),
        kinesisLine(good[1]!, '5'),
      ].join('\n') + '\n',
    );
    const q = join(dir, 'quarantine.jsonl');
    const every = everyEventRules();
    for (const redaction of ['literals', 'none']) {
      const r = await runCli(['replay', f, '--key-file', KEY_FILE, '--rules', every, '--output', 'jsonl', '--redaction', redaction, '--quarantine-file', q]);
      assert.equal(r.code, 0, r.stderr);
      // 2 + 2 events of the good records, 2 of the 3 of the deep record
      assert.deepEqual(jsonLines(r.stdout).map((a) => (a.source as string).replace(/^.*:(\d+) .*sequence (\d+)$/, '$1/$2')), ['1/1', '1/1', '2/2', '2/2', '5/5', '5/5']);
      assert.match(r.stderr, /5 records \(4 encrypted\), 6 activity events, 0 heartbeats, 6 alerts, 3 quarantined/);
      assert.match(r.stderr, /:2 shard shardId-000000000000 sequence 2: too-deep: event 1: field "paramList" nests objects or arrays more than 100 levels/);
      assert.match(r.stderr, /:3 shard shardId-000000000000 sequence 3: record-too-large: /);
      assert.match(r.stderr, /:4 shard shardId-000000000000 sequence 4: payload-too-large: /);
    }
    const entries = jsonLines(readFileSync(q, 'utf8'));
    assert.deepEqual(entries.slice(0, 3).map((e) => [e.reason, (e.position as { line: number }).line, e.eventIndex]), [
      ['too-deep', 2, 1],
      ['record-too-large', 3, undefined],
      ['payload-too-large', 4, undefined],
    ]);
    const strict = await runCli(['replay', f, '--key-file', KEY_FILE, '--rules', every, '--strict', '-q']);
    assert.equal(strict.code, 1);
    const decode = await runCli(['decode', f, '--key-file', KEY_FILE, '--heartbeats']);
    assert.equal(decode.code, 0, decode.stderr);
    assert.equal(jsonLines(decode.stdout).length, 6);
  });
});

it('README "Limits" states the values of src/limits.ts', () => {
  const readme = readFileSync('README.md', 'utf8');
  const table = readme.slice(readme.indexOf('#### Limits'), readme.indexOf('### Exit codes'));
  const rows = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| what') && !l.startsWith('| ---'));
  assert.equal(rows.length, 5);
  assert.match(rows[0]!, new RegExp(`\\| ${MAX_JSON_DEPTH} levels .*\\| \`too-deep\``));
  assert.match(rows[1]!, new RegExp(`\\| ${formatBytes(MAX_RECORD_BYTES)}: .*\\| \`record-too-large\``));
  assert.match(rows[2]!, new RegExp(`\\| ${formatBytes(MAX_PAYLOAD_BYTES)} \\| \`payload-too-large\``));
  assert.match(rows[3]!, new RegExp(`\\| ${MAX_INPUT_VALUE_CHARS / MiB} Mi characters \\| \`value-too-large\``));
  assert.match(rows[4]!, new RegExp(`\\| ${formatBytes(MAX_ALERT_BYTES)} .*\\| shortened, never dropped`));
});
