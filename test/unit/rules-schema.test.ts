import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import { RULES_SCHEMA_PATH, rulesSchemaText } from '../../schema/generate.js';

const ajv = new Ajv2020.default({ allErrors: true, strict: false });
const validate = ajv.compile(JSON.parse(rulesSchemaText()) as object);

test('schema/rules.schema.json is generated from the rule loader tables (regenerate: npm run schemas)', async () => {
  assert.equal(await readFile(RULES_SCHEMA_PATH, 'utf8'), rulesSchemaText());
});

test('the editor schema accepts every bundled rule file and every rule example of docs/rules.md and the README', async () => {
  const docs: [string, unknown][] = [];
  for (const f of (await readdir('rules')).filter((f) => f.endsWith('.yaml'))) docs.push([`rules/${f}`, parse(await readFile(join('rules', f), 'utf8'))]);
  for (const file of ['docs/rules.md', 'README.md']) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      const doc = parse(m[1]!) as Record<string, unknown> | null;
      if (doc && typeof doc === 'object' && 'rules' in doc) docs.push([file, doc]);
    }
  }
  assert.ok(docs.length >= 8);
  // the docs' deliberate error example is the one document the loader rejects: skip it
  for (const [name, doc] of docs.filter(([, d]) => !JSON.stringify(d).includes('example-typos'))) {
    assert.ok(validate(doc), `${name}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('the editor schema flags the mistakes users make: a misspelt key, an unknown operator, a bad severity', () => {
  const base = { id: 'r', severity: 'high', when: { dbUserName: { iin: ['a'] } } };
  assert.ok(validate({ rules: [base] }));
  assert.ok(!validate({ rules: [{ ...base, serverity: 'high' }] }), 'misspelt key');
  assert.ok(!validate({ rules: [{ ...base, when: { rowCount: { greaterThen: 5 } } }] }), 'unknown operator');
  assert.ok(!validate({ rules: [{ ...base, severity: 'urgent' }] }), 'bad severity');
  assert.ok(!validate({ rules: [{ ...base, when: { all: [] } }] }), 'empty all');
});
