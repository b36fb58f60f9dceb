/**
 * Renders the Slack message of an alert (src/delivery/sinks/slackMessage.ts) as a small HTML page that looks
 * roughly as Slack shows it (header, mrkdwn sections, two-column fields, code block, context footer), to LOOK at
 * the message without a workspace: `node --import tsx scripts/render-slack.ts [ALERT.json] > /tmp/slack.html`, then
 * `chromium --headless --screenshot=/tmp/slack.png --window-size=800,600 file:///tmp/slack.html`. Without a file:
 * the first alert of samples/expected/postgresql-alerts.jsonl, named as a dasguard.yaml `clusters:` entry would.
 * docs/img/slack-alert.png is made this way. An approximation: Slack's own fonts, spacing and emoji differ.
 */
import { readFile } from 'node:fs/promises';
import { slackMessage } from '../src/delivery/sinks/slackMessage.js';
import type { DeliveredAlert } from '../src/delivery/types.js';

const EMOJI: Record<string, string> = { ':information_source:': 'ℹ️', ':large_blue_circle:': '🔵', ':warning:': '⚠️', ':rotating_light:': '🚨', ':fire:': '🔥' };

/** Slack's text (already &-escaped by slackMessage: no tag can come through) as HTML: the mrkdwn subset we send. */
function mrkdwn(s: string): string {
  const parts = s.split(/```\n?([\s\S]*?)\n?```/);
  return parts
    .map((p, i) => {
      if (i % 2 === 1) return `<pre>${p}</pre>`;
      return p
        .replace(/`([^`]+)`/g, '<code>$1</code>')
        .replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1<b>$2</b>')
        .replace(/(^|[\s(])_([^_\n]+)_/g, '$1<i>$2</i>')
        .replace(/\n/g, '<br>');
    })
    .join('');
}

function plain(s: string): string {
  const html = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return html.replace(/:[a-z_]+:/g, (m) => EMOJI[m] ?? m);
}

type Text = { type: string; text: string };
type Block = { type: string; text?: Text; fields?: Text[]; elements?: Text[] };

export function renderSlackHtml(payload: { text: string; blocks: Block[] }): string {
  const body = payload.blocks
    .map((b) => {
      const t = (x: Text) => (x.type === 'plain_text' ? plain(x.text) : mrkdwn(x.text));
      if (b.type === 'header') return `<div class="header">${t(b.text!)}</div>`;
      if (b.type === 'context') return `<div class="context">${b.elements!.map(t).join(' ')}</div>`;
      const text = b.text ? `<div class="text">${t(b.text)}</div>` : '';
      const fields = b.fields ? `<div class="fields">${b.fields.map((f) => `<div>${t(f)}</div>`).join('')}</div>` : '';
      return `<div class="section">${text}${fields}</div>`;
    })
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>Slack alert</title>
<style>
body { font: 15px/1.46668 -apple-system, "Segoe UI", Lato, "Helvetica Neue", Arial, sans-serif; color: #1d1c1d; margin: 0; background: #fff; }
.msg { display: flex; gap: 8px; padding: 12px 20px; }
.avatar { width: 36px; height: 36px; border-radius: 4px; background: #4a154b; color: #fff; font-weight: 700; display: flex; align-items: center; justify-content: center; flex: none; }
.who b { font-weight: 900; } .who span { color: #616061; font-size: 12px; margin-left: 4px; }
.app { background: #e8e8e8; color: #616061; font-size: 10px; padding: 1px 3px; border-radius: 2px; margin-left: 4px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 4px; }
.section { margin: 6px 0; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin-top: 6px; }
pre { background: #f8f8f8; border: 1px solid #ddd; border-radius: 4px; padding: 8px; font: 12px/1.5 Monaco, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
code { font: 12px Monaco, Menlo, Consolas, monospace; color: #e01e5a; background: #f8f8f8; border: 1px solid #ddd; border-radius: 3px; padding: 0 2px; }
.context { color: #616061; font-size: 12px; margin-top: 8px; }
.fallback { color: #616061; font-size: 12px; border-top: 1px solid #ddd; padding: 8px 20px; }
</style>
<div class="msg"><div class="avatar">dg</div><div class="body">
<div class="who"><b>dasguard</b><span class="app">APP</span><span>10:00 AM</span></div>
${body}
</div></div>
<div class="fallback">notification text: ${mrkdwn(payload.text)}</div>
`;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  let alert: DeliveredAlert;
  if (file !== undefined) alert = JSON.parse(await readFile(file, 'utf8')) as DeliveredAlert;
  else {
    const first = (await readFile('samples/expected/postgresql-alerts.jsonl', 'utf8')).split('\n')[0]!;
    alert = { ...(JSON.parse(first) as DeliveredAlert), cluster: { name: 'payments-prod', resourceId: 'cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ' } };
  }
  process.stdout.write(renderSlackHtml(slackMessage(alert) as { text: string; blocks: Block[] }));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
