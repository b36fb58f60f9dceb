/**
 * An event that only feeds correlations is redacted as the part their state keeps of it (shownEvent.ts storedFields,
 * redactProjection),
 * not whole: what the state shows of it (`shown`, the first and last events of a correlation alert) must be exactly
 * what it was with the whole redacted copy, for every correlation of the pack, every redaction mode, on the samples,
 * the PostgreSQL and MySQL corpora and the events of the rules' own tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRules } from '../../src/rules/index.js';
import { CompiledRuleSet } from '../../src/rules/RuleSet.js';
import { shown, storedFields } from '../../src/rules/shownEvent.js';
import { redactEvent, redactProjection } from '../../src/redaction/index.js';
import { packEvents } from '../support/packEvents.js';


test('the pack: what a correlation keeps of an event is the same from its stored part as from its whole redacted copy', async () => {
  const rs = (await loadRules(['rules'])).ruleSet as CompiledRuleSet;
  const all = await packEvents(rs);
  let compared = 0;
  const withText = new Set<string>();
  for (const e of all) {
    const bases = rs.baseMatches(e);
    if (bases.length === 0) continue;
    for (const mode of ['literals', 'full', 'none'] as const) {
      const whole = redactEvent(e, mode);
      const part = redactProjection(e, storedFields(bases), mode);
      // The same object as the old way: the projection first, then redactEvent of it.
      const projection = Object.create(null) as Record<string, unknown>;
      for (const f of storedFields(bases).flat()) if (Object.hasOwn(e, f)) projection[f] = e[f];
      assert.deepEqual(part, redactEvent(projection, mode));
      assert.deepEqual(Object.keys(part), Object.keys(redactEvent(projection, mode)));
      for (const rule of bases) {
        const a = shown(rule.correlation!, e, whole);
        assert.deepEqual(shown(rule.correlation!, e, part), a, `${rule.info.id}, ${mode}: ${JSON.stringify(e)}`);
        if (typeof a.commandText === 'string') withText.add(`${rule.info.id}/${mode}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 1000, `comparisons: ${compared}`);
  // The statement text is what redaction changes: it must have been compared, masked (literals) and in clear (none).
  assert.ok([...withText].some((k) => k.endsWith('/literals')) && [...withText].some((k) => k.endsWith('/none')), [...withText].join(' '));
});

test('the stored part keeps what the rule groups and counts by, only fields the event has (not one Object.prototype has), and __proto__ as a field', () => {
  const rule = { correlation: { type: 'value_sum', groupBy: ['clusterId', '__proto__', 'objectType', 'toString'], field: 'rowCount', windowMs: 1, gte: 1, realertMs: 0 } } as never;
  const event = JSON.parse('{"clusterId": "c", "engine": "postgresql", "__proto__": "x", "rowCount": 5, "paramList": ["4111111111111111"], "commandText": "SELECT 4111111111111111", "errorMessage": "no"}') as Record<string, unknown>;
  const part = redactProjection(event, storedFields([rule]), 'literals');
  assert.deepEqual(Object.keys(part).sort(), ['__proto__', 'commandText', 'engine', 'rowCount']);
  assert.equal(Object.getOwnPropertyDescriptor(part, '__proto__')?.value, 'x');
  assert.equal(Object.getPrototypeOf(part), Object.prototype, 'a plain object');
  assert.equal('paramList' in part, false, 'bind values are not part of it');
  assert.equal(part.commandText, 'SELECT ?', 'the statement text is masked');
  assert.equal('commandText' in redactProjection(event, storedFields([rule]), 'full'), false, 'full leaves it out');
  assert.equal(redactProjection(event, storedFields([rule]), 'none').commandText, 'SELECT 4111111111111111');
  assert.equal(shown((rule as { correlation: never }).correlation, event, part).rowCount, 5);
});
