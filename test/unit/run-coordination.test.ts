/**
 * How `run` coordinates (src/commands/runCoordination.ts): dasguard.yaml's `coordination:` checked with file:line
 * problems like every other key, and the flags over the file over the defaults (file checkpoints for one process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigProblem, parseDeliveryConfig } from '../../src/delivery/config.js';
import { resolveCoordination } from '../../src/commands/runCoordination.js';
import { UsageError } from '../../src/errors.js';

const BASE = 'sinks:\n  out: {type: console}\nroutes:\n  - {name: all, sinks: [out]}\n';

test('coordination: in dasguard.yaml is read (durations in ms)', () => {
  const { config, problems } = parseDeliveryConfig('d.yaml', `${BASE}coordination:\n  type: dynamodb\n  leaseTable: dasguard-leases\n  leaseDuration: 5s\n  createTable: false\n`, {});
  assert.deepEqual(problems, []);
  assert.deepEqual(config!.coordination, { type: 'dynamodb', leaseTable: 'dasguard-leases', leaseDurationMs: 5000, createTable: false });
});

test('a wrong coordination: names every problem with its line', () => {
  const text = `${BASE}coordination:\n  type: dynamo\n  leaseTable: "no spaces allowed"\n  leaseDuration: soon\n  createTabel: false\n`;
  const lines = parseDeliveryConfig('d.yaml', text, {}).problems.map(formatConfigProblem);
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0]!, /^d\.yaml:6: .*"dynamo" is not one of file, dynamodb/);
  assert.match(lines[1]!, /^d\.yaml:7: .*a DynamoDB table name/);
  assert.match(lines[2]!, /^d\.yaml:8: /);
  assert.match(lines[3]!, /^d\.yaml:9: .*unknown key 'createTabel'.*createTable/);
});

test('flags over the file over the defaults; the file checkpoints by default', () => {
  assert.deepEqual(resolveCoordination({}, undefined, '/cp'), { type: 'file', checkpointDir: '/cp' });
  const file = { type: 'dynamodb' as const, leaseTable: 'from-file', leaseDurationMs: 5000 };
  const c = resolveCoordination({ leaseTable: 'from-flag', workerId: 'me' }, file, '/cp');
  assert.deepEqual(c, { type: 'dynamodb', leaseTable: 'from-flag', leaseDurationMs: 5000, createTable: true, workerId: 'me' });
  assert.deepEqual(resolveCoordination({ coordination: 'file' }, file, '/cp'), { type: 'file', checkpointDir: '/cp' });
  const d = resolveCoordination({ coordination: 'dynamodb', leaseTable: 't-1', createTable: false }, undefined, '/cp');
  assert.equal(d.type === 'dynamodb' && d.createTable, false);
  assert.match(d.type === 'dynamodb' ? d.workerId : '', /^[^:]+:\d+:[0-9a-f]{6}$/, 'host:pid:random by default');
});

test('dynamodb without a table, or lease flags without dynamodb: usage errors', () => {
  assert.throws(() => resolveCoordination({ coordination: 'dynamodb' }, undefined, '/cp'), (e) => e instanceof UsageError && /needs --lease-table/.test(e.message));
  assert.throws(() => resolveCoordination({ leaseTable: 't-1' }, undefined, '/cp'), (e) => e instanceof UsageError && /--lease-table needs --coordination dynamodb/.test(e.message));
});

test('a state table with either coordination, from the flag or the file; --no-create-table covers it too', () => {
  assert.deepEqual(resolveCoordination({ stateTable: 'dg-state' }, undefined, '/cp'), { type: 'file', checkpointDir: '/cp', stateTable: { table: 'dg-state', create: true } });
  assert.deepEqual(resolveCoordination({ stateTable: 'dg-state', createTable: false }, undefined, '/cp').stateTable, { table: 'dg-state', create: false });
  const file = { type: 'dynamodb' as const, leaseTable: 'dg-leases', stateTable: 'from-file' };
  assert.deepEqual(resolveCoordination({}, file, '/cp').stateTable, { table: 'from-file', create: true });
  assert.deepEqual(resolveCoordination({ stateTable: 'from-flag', createTable: false }, file, '/cp').stateTable, { table: 'from-flag', create: false });
  const { config, problems } = parseDeliveryConfig('d.yaml', `${BASE}coordination:\n  stateTable: dg-state\n`, {});
  assert.deepEqual([problems, config!.coordination], [[], { stateTable: 'dg-state' }]);
});

test('--no-create-table with nothing to create, a bad state table name, one table for both: usage errors', () => {
  assert.throws(() => resolveCoordination({ createTable: false }, undefined, '/cp'), (e) => e instanceof UsageError && /--no-create-table needs --coordination dynamodb .* or --state-table/.test(e.message));
  assert.throws(() => resolveCoordination({ stateTable: 'a b' }, undefined, '/cp'), (e) => e instanceof UsageError && /--state-table must be a DynamoDB table name/.test(e.message));
  assert.throws(() => resolveCoordination({ coordination: 'dynamodb', leaseTable: 'dg-t', stateTable: 'dg-t' }, undefined, '/cp'), (e) => e instanceof UsageError && /must be two tables/.test(e.message));
});
