/**
 * The Slack sink's message (src/delivery/sinks/slackMessage.ts): the payload of a sample alert is a reviewed golden
 * file (test/fixtures/slack/; UPDATE_GOLDEN=1 rewrites it, then review the diff), and a statement or message an
 * attacker wrote cannot close the code block, ping a channel or a user, or hide a link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { slackMessage } from '../../src/delivery/sinks/slackMessage.js';
import type { DeliveredAlert } from '../../src/delivery/types.js';
import { healthAlert } from '../../src/health/healthAlert.js';

type Text = { type: string; text: string };
type Block = { type: string; text?: Text; fields?: Text[]; elements?: Text[] };
type Payload = { text: string; blocks: Block[] };

async function sampleAlert(): Promise<DeliveredAlert> {
  const first = (await readFile('samples/expected/postgresql-alerts.jsonl', 'utf8')).split('\n')[0]!;
  return { ...(JSON.parse(first) as DeliveredAlert), cluster: { name: 'payments-prod', resourceId: 'cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ' }, source: 'samples/streams/x.jsonl:5' };
}

async function golden(name: string, value: unknown): Promise<void> {
  const path = `test/fixtures/slack/${name}.json`;
  const text = JSON.stringify(value, null, 2) + '\n';
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(path, text);
  assert.equal(text, await readFile(path, 'utf8'), `${path}: the payload changed; UPDATE_GOLDEN=1 and review the diff`);
}

/** Every mrkdwn text of the payload (what Slack parses), the fallback included. */
function mrkdwnTexts(p: Payload): string[] {
  const out = [p.text];
  for (const b of p.blocks) {
    for (const t of [b.text, ...(b.fields ?? []), ...(b.elements ?? [])]) if (t && t.type === 'mrkdwn') out.push(t.text);
  }
  return out;
}

test('slack: the payload of a sample alert (golden): header with severity once, rule and cluster; statement once, in a code block', async () => {
  // a fixed rules version: an edit of the pack must not rewrite this golden (the footer shows whatever it is)
  const a = { ...(await sampleAlert()), rulesVersion: 'sha256:0123456789ab' };
  const p = slackMessage(a) as Payload;
  await golden('ddl-alert', p);
  assert.equal(p.blocks[0]!.type, 'header');
  assert.equal(p.blocks[0]!.text!.text, ':rotating_light: HIGH · ddl-by-privileged-user · payments-prod');
  const all = JSON.stringify(p.blocks);
  assert.equal(all.split('HIGH').length - 1, 1, 'the severity once');
  assert.equal(all.split('CREATE TABLE payments_archive').length - 1, 1, 'the statement once');
  const fields = p.blocks.flatMap((b) => b.fields ?? []).map((f) => f.text.split('\n')[0]);
  assert.deepEqual(fields, ['*User*', '*Host*', '*Database*', '*Application*', '*Object*', '*Time*']);
  const footer = p.blocks.at(-1)!;
  assert.equal(footer.type, 'context');
  assert.match(footer.elements![0]!.text, new RegExp(`^alert ${a.id} · rules sha256:0123456789ab · cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ$`));
  assert.equal(p.text, '[HIGH] ddl-by-privileged-user on payments-prod: ' + a.message);
});

test('slack: the rules version in the footer when the alert has one; a resolving alert names what it resolves', async () => {
  const p = slackMessage({ ...(await sampleAlert()), rulesVersion: '2026.12.0' }) as Payload;
  assert.match(p.blocks.at(-1)!.elements![0]!.text, / · rules 2026\.12\.0/);
  const kind = { ruleId: 'das-loss-window', facts: ['state'] } as const;
  const closed = healthAlert(kind, { severity: 'info', description: 'd', message: 'loss window closed', clusterId: 'payments-prod', time: new Date(0), source: 's', facts: { state: 'resolved' }, key: ['w', 'resolved'], resolvesKey: ['w', 'open'] });
  const q = slackMessage(closed) as Payload;
  assert.equal(q.blocks[0]!.text!.text, ':information_source: INFO · das-loss-window · payments-prod');
  assert.match(q.blocks.at(-1)!.elements![0]!.text, new RegExp(`^alert ${closed.id} · resolves ${closed.resolves}$`));
  assert.equal(q.blocks.some((b) => b.fields !== undefined), true, 'the time field');
});

test('slack: an attacker-controlled statement with ``` and <!channel> cannot break the code block or ping', async () => {
  const base = await sampleAlert();
  const evil = "SELECT 1; ```\n<!channel> <@U123> *bold* <https://evil.example|click>\n```` `";
  const a: DeliveredAlert = { ...base, message: `eve ran: ${evil}`, event: { ...base.event, commandText: evil, dbUserName: '<!here> ```eve' } };
  const p = slackMessage(a) as Payload;
  for (const t of mrkdwnTexts(p)) {
    assert.equal(/<[!@#]|<https?:/.test(t), false, `no live mention or link: ${t}`);
    const inside = t.startsWith('```\n') && t.endsWith('\n```') ? t.slice(4, -4) : t;
    assert.equal(inside.includes('``'), false, `no backtick run but the block's own fences: ${t}`);
  }
  const code = p.blocks.map((b) => b.text?.text ?? '').filter((t) => t.startsWith('```'));
  assert.equal(code.length, 1);
  // exactly one fenced block: the opening and closing fences are the only ``` in it
  assert.equal(code[0]!.split('```').length, 3, code[0]);
  assert.ok(code[0]!.includes('&lt;!channel&gt; &lt;@U123&gt;'), code[0]);
});

test('slack: a long statement of characters Slack escapes stays within its limits, cut outside an escape, fences intact', async () => {
  const base = await sampleAlert();
  // `<` is 4 characters once escaped: cut before escaping, this statement made a 10,000-character section that Slack
  // refuses (the alert would never reach Slack)
  const evil = `SELECT '${'<&>`'.repeat(2500)}'`;
  const a: DeliveredAlert = { ...base, message: `eve ran: ${evil}`, event: { ...base.event, commandText: evil, dbUserName: '<'.repeat(3000) } };
  const p = slackMessage(a) as Payload;
  for (const t of mrkdwnTexts(p)) {
    assert.ok(t.length <= 3000, `a text of ${t.length} characters`);
    // no escape cut in half: every & starts an entity
    assert.equal(/&(?!amp;|lt;|gt;)/.test(t), false, t.slice(-40));
    const inside = t.startsWith('```\n') && t.endsWith('\n```') ? t.slice(4, -4) : t;
    assert.equal(inside.includes('``'), false, `no backtick run but the block's own fences: ${t.slice(-40)}`);
  }
  const code = p.blocks.map((b) => b.text?.text ?? '').find((t) => t.startsWith('```'))!;
  assert.ok(code.endsWith('…\n```'), code.slice(-20));
});
