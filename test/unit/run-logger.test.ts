/**
 * src/commands/runLogger.ts, what `dasguard run` writes about itself on stderr (through the one logger): JSON lines
 * to a pipe or file; on a terminal readable lines and a status line refreshed in place, erased before any other line
 * (its own, or another writer's through `wrap`) and drawn again after it, so lines never run together.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { runLogger } from '../../src/commands/runLogger.js';
import type { ConsumerStats } from '../../src/consumer/types.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';

function stderr(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const stream = Object.assign(out, { isTTY: tty }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

const stats: ConsumerStats = {
  pipeline: { ...new PipelineStats().snapshot(), records: 1200, events: 3400, heartbeats: 5, alerts: 2, quarantinedRecords: 1, quarantined: 1 },
  keys: { backendCalls: 3, cacheHits: 7, cacheMisses: 3 },
  shards: [{ shardId: 'shardId-000000000001', state: 'reading', lagMs: 1500, sequenceNumber: '42', records: 1200, lastProgressAt: 0 }],
  startedAt: 0,
  lastCheckpointAt: null,
};

describe('runLogger', () => {
  it('not a terminal: every entry and status is one JSON line', () => {
    const err = stderr(false);
    const log = runLogger(err.stream);
    log.entry({ level: 'warn', msg: 'slow', shard: 'a' });
    log.status('s1', stats, { at: Date.now() - 1000, events: 0 });
    const lines = err.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.deepEqual({ ...lines[0], time: undefined }, { time: undefined, level: 'warn', msg: 'slow', shard: 'a' });
    assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(lines[1]!.msg, 'status');
    assert.equal(lines[1]!.kmsCalls, 3);
    assert.deepEqual(lines[1]!.shards, [{ shardId: 'shardId-000000000001', state: 'reading', lagMs: 1500, sequenceNumber: '42' }]);
    assert.equal(log.wrap(err.stream), err.stream, 'no wrapper without a terminal');
  });

  it('a terminal: a status line, erased before the next entry and before other writers; escapes are made safe', () => {
    const err = stderr(true);
    const log = runLogger(err.stream);
    log.status('s1', stats, { at: Date.now() - 1000, events: 0 });
    assert.match(err.text(), /^1,200 records, 3,400 events \(\d[\d,]*\/s\), 2 alerts, 1 quarantined, 3 KMS calls \| lag #1:1\.5s$/);
    const status = err.text();
    log.entry({ level: 'info', msg: 'stopped\x1b[31m', records: 3 });
    assert.equal(err.text(), `${status}\r\x1b[2Kdasguard: stopped\\x1b[31m  records=3\n${status}`, 'erased, the line, the status drawn again');
    log.wrap(err.stream).write('an alert\n');
    assert.ok(err.text().endsWith(`\r\x1b[2Kan alert\n${status}`), JSON.stringify(err.text()));
    log.clear();
    assert.ok(err.text().endsWith(`an alert\n${status}\r\x1b[2K`), 'cleared for good');
    log.entry({ level: 'warn', msg: 'after' });
    assert.ok(err.text().endsWith('\r\x1b[2Kdasguard: warn: after\n'), 'nothing drawn again once cleared');
  });
});
