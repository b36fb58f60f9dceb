/** Slack incoming webhook: a Block Kit message per alert; honours 429 Retry-After. */
import type { SlackSinkConfig } from '../config.js';
import type { DeliveredAlert, SendResult, Sink } from '../types.js';
import { postJson } from './http.js';

const EMOJI: Record<string, string> = { info: ':information_source:', low: ':large_blue_circle:', medium: ':warning:', high: ':rotating_light:', critical: ':fire:' };

export class SlackSink implements Sink {
  readonly type = 'slack';
  readonly maxBatch = 1;
  private readonly secrets: string[];

  constructor(
    readonly name: string,
    private readonly config: SlackSinkConfig,
    secrets: readonly string[] = [],
  ) {
    this.secrets = [config.url, ...secrets];
  }

  async send(alerts: readonly DeliveredAlert[]): Promise<SendResult[]> {
    const out: SendResult[] = [];
    for (const a of alerts) {
      out.push(await postJson(this.config.url, slackMessage(a), { timeoutMs: this.config.timeoutMs ?? 10_000, secrets: this.secrets, what: `slack sink '${this.name}'` }));
    }
    return out;
  }

  async close(): Promise<void> {
    // nothing held
  }
}

/** Slack escapes: &, <, > (mrkdwn): `<!channel>`, `<@U123>` and `<url|label>` become plain text. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function field(label: string, v: unknown): { type: 'mrkdwn'; text: string } | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return { type: 'mrkdwn', text: `*${label}*\n${esc(String(v)).slice(0, 1900)}` };
}

/** The Block Kit payload for one alert (exported for tests). */
function slackMessage(a: DeliveredAlert): Record<string, unknown> {
  const e = a.event;
  const str = (k: string): unknown => e[k];
  const fields = [
    field('Severity', a.severity.toUpperCase()),
    field('Rule', a.ruleId),
    field('User', str('dbUserName')),
    field('Host', str('remoteHost')),
    field('Database', str('databaseName')),
    field('Object', str('objectName')),
    field('Time', a.time),
    field('Cluster', [a.clusterId, a.instanceId].filter((x) => x !== null).join(' / ') || undefined),
  ].filter((f) => f !== undefined);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: `${a.severity.toUpperCase()}: ${a.ruleId}`.slice(0, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `${EMOJI[a.severity] ?? ''} ${esc(a.message)}`.slice(0, 3000) }, fields: fields.slice(0, 10) },
  ];
  const sql = typeof e.commandText === 'string' ? e.commandText : undefined;
  if (sql) {
    const shown = sql.length > 2800 ? `${sql.slice(0, 2800)}…` : sql;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${esc(shown).replace(/```/g, "'''")}\`\`\`` } });
  }
  const notes = [`alert ${a.id}`, a.source];
  if (a.suppressedCount) notes.push(`${a.suppressedCount} similar alert${a.suppressedCount === 1 ? '' : 's'} suppressed`);
  if (a.truncated) notes.push('truncated');
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: esc(notes.join(' · ')).slice(0, 2000) }] });
  // `text` is the notification (and what clients without blocks show): Slack reads it as mrkdwn too, so it is
  // escaped like the blocks, or an alert message could @channel everyone or hide a link. No unfurling: Slack
  // would otherwise fetch (and preview) URLs that alert text chose.
  return { text: esc(`[${a.severity.toUpperCase()}] ${a.ruleId}: ${a.message}`).slice(0, 3000), blocks, unfurl_links: false, unfurl_media: false };
}
