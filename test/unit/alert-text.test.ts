/**
 * The text line people read (replay, run, watch without --output jsonl): one aligned line per alert, with the
 * cluster's name when dasguard knows it; positions and the runbook only with --verbose; nothing an attacker wrote
 * can forge a line or a terminal sequence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { consoleHandoff } from '../../src/delivery/consoleDelivery.js';
import { formatAlertText } from '../../src/pipeline/output.js';
import { healthAlert } from '../../src/health/healthAlert.js';
import { makeAlert } from '../support/alerts.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('text: time, severity, rule, cluster, user@host, message and id, in that order, on one line; no position', () => {
  const a = makeAlert(1, { runbook: 'Ask the owner.', cluster: { name: 'payments-prod', resourceId: 'cluster-ABCDEFGHIJKLMNOP' } });
  const line = formatAlertText(a, false);
  assert.equal(line.includes('\n'), false);
  const cols = line.split(/\s{1,}/);
  assert.deepEqual(cols.slice(0, 5), ['2026-11-20T10:00:00.000Z', 'HIGH', 'pg.role-password-change', 'payments-prod', 'app_admin@10.0.0.7']);
  assert.ok(line.endsWith(`role password changed by app_admin (#1)  [${a.id}]`), line);
  assert.equal(line.includes('test:1'), false, 'no position without --verbose');
  assert.equal(line.includes('cluster-ABCDEFGHIJKLMNOP'), false, 'the name, not the resource id');
});

test('text: columns line up whatever the rule, cluster and user lengths (up to their widths)', () => {
  const lines = [
    makeAlert(1, { ruleId: 'a', cluster: { name: 'x', resourceId: null }, event: { dbUserName: 'u', remoteHost: 'h' } }),
    makeAlert(2, { ruleId: 'delete-or-update-without-where', severity: 'critical', clusterId: 'cluster-ZZZ', event: { dbUserName: 'a_longer_user', remoteHost: '10.2.3.4' } }),
  ].map((a) => formatAlertText(a, false));
  const at = (l: string) => l.indexOf('role password');
  assert.equal(at(lines[0]!), at(lines[1]!), lines.join('\n'));
  assert.ok(at(lines[0]!) > 0);
});

test('text: without a known name the resource id; a health alert has no user@host; a resolving one names what it resolves', () => {
  assert.match(formatAlertText(makeAlert(1), false), / cluster-ABCDEFGHIJKLMNOP +app_admin@10\.0\.0\.7 /);
  const resolved = healthAlert(
    { ruleId: 'das-stream-silent', facts: ['state'] },
    { severity: 'info', description: 'd', message: 'traffic resumed', clusterId: 'payments-prod', time: new Date(0), source: 's', facts: { state: 'resolved' }, key: ['r'], resolvesKey: ['o'] },
  );
  const opened = healthAlert(
    { ruleId: 'das-stream-silent', facts: ['state'] },
    { severity: 'high', description: 'd', message: 'silent', clusterId: 'payments-prod', time: new Date(0), source: 's', facts: { state: 'open' }, key: ['o'] },
  );
  assert.equal(resolved.resolves, opened.id);
  const line = formatAlertText(resolved, false);
  assert.match(line, / payments-prod +- +traffic resumed {2}\[[0-9a-f]{32}, resolves [0-9a-f]{32}\]$/);
  assert.ok(line.endsWith(`resolves ${opened.id}]`));
});

test('text --verbose: the position after the id, the runbook on a second line', () => {
  const a = makeAlert(7, { runbook: 'Ask the owner.' });
  const [first, second, ...rest] = formatAlertText(a, false, true).split('\n');
  assert.ok(first!.endsWith(`[${a.id}] (test:7)`), first);
  assert.match(second!, /^ +runbook: Ask the owner\.$/);
  assert.deepEqual(rest, []);
});

test('text: attacker-controlled user, host, rule message and runbook cannot forge a line or a terminal sequence', () => {
  const evil = 'x\n2026-01-01T00:00:00.000Z CRITICAL forged\r\x1b[2J\u202e';
  const a = makeAlert(1, { message: evil, runbook: evil, event: { dbUserName: evil, remoteHost: evil } });
  for (const verbose of [false, true]) {
    const text = formatAlertText(a, true, verbose);
    assert.equal(text.split('\n').length, verbose ? 2 : 1, text);
    assert.equal(/[\r\u202e]/.test(text), false);
    // the only escape sequences are the severity's colour and its reset
    assert.deepEqual(text.match(/\x1b\[[0-9;]*m/g), ['\x1b[31m', '\x1b[0m']);
    assert.equal(text.replace(/\x1b\[[0-9;]*m/g, '').includes('\x1b'), false);
  }
});

test('replay/run/watch console: --verbose reaches the printed line', async () => {
  for (const verbose of [false, true]) {
    const out = capture();
    const h = consoleHandoff(out.stream, 'text', false, verbose);
    await h.handOff([makeAlert(3)]);
    await h.close();
    assert.equal(out.text().includes('(test:3)'), verbose);
  }
});
