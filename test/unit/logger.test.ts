/**
 * src/log/logger.ts, the one logger, as a person or a log shipper sees its output: JSON lines to a pipe (level, time,
 * msg, fields; inert text), readable lines on a terminal, where the status line never has another line glued onto
 * it, alerts on stdout included; and the level, from --log-level or DASGUARD_LOG_LEVEL.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { runLogger } from '../../src/commands/runLogger.js';
import { logLevelOption } from '../../src/commands/options.js';
import type { ConsumerStats } from '../../src/consumer/types.js';
import { openLog } from '../../src/log/logger.js';
import { PipelineStats } from '../../src/pipeline/PipelineStats.js';

function stream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { stream: Object.assign(out, { isTTY: tty }) as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

/**
 * What a terminal shows for `text`: `\r\x1b[2K` erases the current line, `\n` ends it. The lines that ended, and the
 * one still being written (the status line).
 */
function screen(text: string): { lines: string[]; current: string } {
  const lines: string[] = [];
  let current = '';
  for (const part of text.split(/(\r\x1b\[2K|\n)/)) {
    if (part === '\r\x1b[2K') current = '';
    else if (part === '\n') {
      lines.push(current);
      current = '';
    } else current += part;
  }
  return { lines, current };
}

const stats: ConsumerStats = {
  pipeline: { ...new PipelineStats().snapshot(), records: 10, events: 20, alerts: 1 },
  keys: undefined,
  shards: [{ shardId: 'shardId-000000000000', state: 'reading', lagMs: 0, sequenceNumber: '1', records: 10, lastProgressAt: 0 }],
  startedAt: 0,
  lastCheckpointAt: null,
};

describe('the one logger', () => {
  it('not a terminal: one JSON object a line, level/time/msg and the fields, inert text; the Lambda adds service', () => {
    const err = stream(false);
    const { log } = openLog(err.stream);
    log({ level: 'warn', msg: 'sink failing\nforged line \u202e', sink: 'slack', attempt: 2 });
    const lines = err.text().split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, 'never more than one line');
    assert.ok(!/[\u202e\u2028]/.test(err.text()), 'what JSON leaves raw is escaped');
    const e = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual({ ...e, time: undefined }, { level: 'warn', time: undefined, msg: 'sink failing\nforged line \u202e', sink: 'slack', attempt: 2 });
    assert.match(String(e.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const lambda = stream(false);
    openLog(lambda.stream, { base: { service: 'dasguard' } }).log({ level: 'info', msg: 'init' });
    assert.equal((JSON.parse(lambda.text()) as Record<string, unknown>).service, 'dasguard');
  });

  it('a terminal: readable, terminal-safe lines; info has no level prefix; delivery says so first', () => {
    const err = stream(true);
    const { log } = openLog(err.stream);
    log({ level: 'info', msg: 'watching', stream: 's1' });
    log({ level: 'warn', msg: 'bad \x1b]0;title\x07 name', user: 'x\ry' });
    log({ level: 'warn', msg: "sink 'slack' failed; retrying", component: 'delivery', sink: 'slack', attempt: 1 });
    assert.deepEqual(screen(err.text()).lines, [
      'dasguard: watching  stream=s1',
      'dasguard: warn: bad \\x1b]0;title\\x07 name  user=x\\ry',
      "dasguard: warn: sink 'slack' failed; retrying  component=delivery sink=slack attempt=1",
    ]);
  });

  it('a terminal: a status line, a log line and an alert on stdout never glue together; the status stays at the bottom', () => {
    // stdout and stderr are the same terminal: one stream for both, as the screen gets them; run hands the delivery
    // its stdout through `wrap`
    const tty = stream(true);
    const log = runLogger(tty.stream);
    const alerts = log.wrap(tty.stream);
    log.status('s1', stats, { at: Date.now() - 1000, events: 0 });
    log.entry({ level: 'warn', msg: 'quarantined', shardId: 'shardId-000000000000' });
    alerts.write('2026-10-14T09:30:00.015Z HIGH     ddl-by-privileged-user  [id1]\n');
    log.entry({ level: 'info', msg: 'rules reloaded' });
    const shown = screen(tty.text());
    assert.deepEqual(shown.lines, [
      'dasguard: warn: quarantined  shardId=shardId-000000000000',
      '2026-10-14T09:30:00.015Z HIGH     ddl-by-privileged-user  [id1]',
      'dasguard: rules reloaded',
    ]);
    assert.match(shown.current, /^10 records, 20 events \(\d+\/s\), 1 alerts, 0 quarantined, 0 KMS calls \| lag #0:0ms$/, 'the status line drawn again');
    log.clear();
    assert.equal(screen(tty.text()).current, '', 'cleared when run stops');
  });

  it('a level hides the lines below it (status lines are info)', () => {
    const err = stream(false);
    const log = runLogger(err.stream, 'warn');
    log.entry({ level: 'info', msg: 'watching' });
    log.entry({ level: 'debug', msg: 'detail' });
    log.status('s1', stats, { at: Date.now(), events: 0 });
    log.entry({ level: 'warn', msg: 'slow' });
    assert.deepEqual(err.text().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg), ['slow']);
    const tty = stream(true);
    const quiet = runLogger(tty.stream, 'warn');
    quiet.status('s1', stats, { at: Date.now(), events: 0 });
    assert.equal(tty.text(), '', 'no status line either');
  });

  it('--log-level over DASGUARD_LOG_LEVEL over info; a wrong value names its source', () => {
    assert.equal(logLevelOption(undefined, {}), 'info');
    assert.equal(logLevelOption(undefined, { DASGUARD_LOG_LEVEL: 'debug' }), 'debug');
    assert.equal(logLevelOption('error', { DASGUARD_LOG_LEVEL: 'debug' }), 'error');
    assert.throws(() => logLevelOption('verbose', {}), { name: 'UsageError', message: '--log-level must be one of debug, info, warn, error; got "verbose"' });
    assert.throws(() => logLevelOption(undefined, { DASGUARD_LOG_LEVEL: 'loud' }), {
      name: 'UsageError',
      message: 'DASGUARD_LOG_LEVEL must be one of debug, info, warn, error; got "loud"',
    });
  });
});
