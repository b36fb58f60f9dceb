/**
 * The Slack Block Kit message of one alert: a header (severity once, rule, cluster), the message, the fields a
 * responder looks at (user, host, database, application, object, time), the statement once in a code block, the runbook,
 * and a context footer (alert id, what it resolves, rules version); plus a plain `text` fallback (notifications and
 * clients without blocks).
 *
 * Every value is attacker-controlled (statement text, user and application names, server messages) and Slack
 * reads mrkdwn everywhere but in plain_text: `esc` turns & < > into entities, so `<!channel>`, `<@U123>` and
 * `<url|label>` stay text, and backtick runs are broken so no value (the statement) can close its code block.
 * The statement is what the alert holds: redacted already by the one redaction policy, under the route's mode
 * (DeliveryHandoff redacts each alert for its route before a sink gets it); a `full` route has none to show.
 */
import { eventOf } from '../../pipeline/alert.js';
import { count } from '../../util/plural.js';
import type { DeliveredAlert } from '../types.js';

const EMOJI: Record<string, string> = { info: ':information_source:', low: ':large_blue_circle:', medium: ':warning:', high: ':rotating_light:', critical: ':fire:' };

/** Slack's limits: header text 150, section text 3000, a field 2000, context text 2000 characters. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 1900;
const STATEMENT_MAX = 2800;

/**
 * Text for mrkdwn: Slack's escapes for &, < and > (https://api.slack.com/reference/surfaces/formatting#escaping), and
 * no two backticks side by side (a zero-width space between), so no value can open or close a code block.
 */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/`(?=`)/g, '`\u200b');
}

/** `s` cut to `max` characters, with `…` when cut. */
function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * `esc(s)` within `max` characters: cut after escaping (an escaped `<` is 4 characters, so a statement of `<`s cut
 * first would pass Slack's 3,000-character limit and the message be refused), never inside an escape.
 */
function escCut(s: string, max: number): string {
  const full = esc(s);
  if (full.length <= max) return full;
  const chars = [...s];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    // the same escapes as esc(), a backtick followed by another one included
    const piece = esc(chars[i]!) + (chars[i] === '`' && chars[i + 1] === '`' ? '\u200b' : '');
    if (out.length + piece.length > max - 1) break;
    out += piece;
  }
  return `${out}…`;
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function field(label: string, v: unknown): { type: 'mrkdwn'; text: string } | undefined {
  const t = text(v);
  return t === undefined ? undefined : { type: 'mrkdwn', text: `*${label}*\n${escCut(t, FIELD_MAX)}` };
}

/** What the header and fallback call the cluster: its name when known, else its id. */
function clusterOf(a: DeliveredAlert): string | undefined {
  return a.cluster?.name ?? a.clusterId ?? a.cluster?.resourceId ?? undefined;
}

/**
 * The message without the statement it quotes at its end (`…: CREATE TABLE t`, `… in: SELECT …`): the code block
 * shows the statement, once. A message that quotes it elsewhere, or not at all, is kept whole.
 */
function withoutStatement(message: string, sql: string | undefined): string {
  if (sql === undefined || sql.length < 8) return message;
  const at = message.lastIndexOf(sql.slice(0, 40));
  if (at <= 0) return message;
  const quoted = message.slice(at).replace(/…$/, '');
  if (!sql.startsWith(quoted)) return message;
  const rest = message.slice(0, at).replace(/(?::| in:)\s*$/, '');
  return rest.trim() === '' ? message : rest;
}

/** The Block Kit payload of one alert. */
export function slackMessage(a: DeliveredAlert): Record<string, unknown> {
  const e = eventOf(a);
  const sev = a.severity.toUpperCase();
  const cluster = clusterOf(a);
  const sql = text(e.commandText);
  const title = [`${sev}`, a.ruleId, ...(cluster !== undefined ? [cluster] : [])].join(' · ');
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(`${EMOJI[a.severity] ?? ''} ${title}`.trim(), HEADER_MAX), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: escCut(withoutStatement(a.message, sql), SECTION_MAX) } },
  ];
  const fields = [
    field('User', e.dbUserName),
    field('Host', e.remoteHost),
    field('Database', e.databaseName),
    field('Application', e.clientApplication),
    field('Object', e.objectName),
    field('Time', a.time === null ? undefined : a.time.replace('T', ' ').replace(/Z$/, ' UTC')),
  ].filter((f) => f !== undefined);
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  if (sql !== undefined) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`\n${escCut(sql, STATEMENT_MAX)}\n\`\`\`` } });
  if (a.runbook !== undefined) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*What to check:* ${escCut(a.runbook, SECTION_MAX - 20)}` } });
  const notes = [`alert ${a.id}`];
  if (a.resolves !== undefined) notes.push(`resolves ${a.resolves}`);
  const version = a.rulesVersion;
  if (version !== undefined) notes.push(`rules ${version}`);
  if (cluster !== undefined && a.cluster?.resourceId && a.cluster.resourceId !== cluster) notes.push(a.cluster.resourceId);
  if (a.suppressedCount) notes.push(`${count(a.suppressedCount, 'similar alert')} suppressed`);
  if (a.truncated) notes.push('truncated');
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escCut(notes.join(' · '), 2000) }] });
  // `text` is the notification (and what clients without blocks show): Slack reads it as mrkdwn too, so it is
  // escaped like the blocks, or an alert message could @channel everyone or hide a link. No unfurling: Slack
  // would otherwise fetch (and preview) URLs that alert text chose.
  // One line: a notification shows no more.
  const fallback = `[${sev}] ${a.ruleId}${cluster !== undefined ? ` on ${cluster}` : ''}: ${a.message}`.replace(/\s+/g, ' ');
  return { text: escCut(fallback, SECTION_MAX), blocks, unfurl_links: false, unfurl_media: false };
}
