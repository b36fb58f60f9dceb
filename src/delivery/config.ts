/**
 * `dasguard.yaml`: read -> parse (YAML with positions, src/config/yamlTree.ts) -> check against CONFIG_SPEC with the
 * spec engine (src/config/checkYaml.ts: `${ENV}` substituted, durations read) -> cross-check names (and, when the
 * rules are known, `rules:` patterns), collecting EVERY problem as `file:line: message` in one pass: the
 * cross-checks run on whatever part of the file did check.
 */
import { deliveryConfigFile } from '../config/layers.js';
import { readFile } from 'node:fs/promises';
import { BUILTIN_RULE_IDS } from '../builtinAlerts.js';
import { ConfigError } from '../errors.js';
import { checkText, checkYaml } from '../config/checkYaml.js';
import { didYouMean } from '../config/didYouMean.js';
import { ProblemList, fileProblemsMessage, formatFileProblem, isError, type Pos, type Problem } from '../config/problems.js';
import { parseYamlFile, type YNode } from '../config/yamlTree.js';
import type { Severity } from '../types.js';
import { CONFIG_SPEC, SNS_TOPIC_ARN, WEBHOOK_URL } from './configSchema.js';
import type { RedactionMode } from '../redaction/index.js';
import { globToRegExp } from '../util/glob.js';

export interface SnsSinkConfig {
  type: 'sns';
  topicArn: string;
  region?: string;
  batch?: boolean;
  timeoutMs?: number;
  /** An explicit endpoint (VPC endpoint, tests); otherwise the SDK's, or AWS_ENDPOINT_URL_SNS. */
  endpoint?: string;
}
export interface SlackSinkConfig {
  type: 'slack';
  url: string;
  timeoutMs?: number;
}
export interface WebhookSinkConfig {
  type: 'webhook';
  url: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}
export interface ConsoleSinkConfig {
  type: 'console';
  stream?: 'stdout' | 'stderr';
  format?: 'text' | 'jsonl';
}
export interface FileSinkConfig {
  type: 'file';
  path: string;
}
export type SinkConfig = SnsSinkConfig | SlackSinkConfig | WebhookSinkConfig | ConsoleSinkConfig | FileSinkConfig;

export interface RouteConfig {
  name: string;
  sinks: string[];
  severity?: Severity;
  tags?: string[];
  rules?: string[];
  default?: boolean;
  redaction?: RedactionMode;
  /** Added by a command-line shortcut: delivers in addition, without keeping default routes from applying. */
  extra?: boolean;
}

export interface SuppressionConfig {
  rules: string[];
  /** Milliseconds. */
  windowMs: number;
  keys: string[];
}

export interface DeliverySettings {
  outboxDir?: string;
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  drainTimeoutMs?: number;
  concurrency?: number;
  fallbackSink?: string;
}

/** `coordination:` (run): how shards are shared between `run` processes. Durations in ms. */
export interface CoordinationConfig {
  type?: 'file' | 'dynamodb';
  leaseTable?: string;
  leaseDurationMs?: number;
  createTable?: boolean;
  /** Correlation state in this DynamoDB table, shared with every `run` and Lambda on it. */
  stateTable?: string;
}

export interface DeliveryConfig {
  /** Where it came from (a file, or `command line`). */
  source: string;
  sinks: Record<string, SinkConfig>;
  routes: RouteConfig[];
  suppression: SuppressionConfig[];
  delivery: DeliverySettings;
  /** `clusters:`: cluster names (DBClusterIdentifier) by DAS resource id, for alerts (src/pipeline/clusterNames.ts). */
  clusters?: Record<string, string>;
  /** `coordination:`: read by `run` only. */
  coordination?: CoordinationConfig;
  /** Every secret value (webhook URLs, header values), to mask in logs and errors. */
  secrets: string[];
}

export interface ConfigLoadResult {
  config: DeliveryConfig | undefined;
  problems: Problem[];
}

export { DEFAULT_CONFIG_FILE } from '../config/layers.js';

export interface ConfigCheckOptions {
  /**
   * The ids of the loaded rules. When given, every `rules:` pattern (routes, suppression) must match one of them
   * or a built-in alert (src/builtinAlerts.ts): a pattern that matches nothing is a typo that silently routes
   * nothing. Commands pass it wherever they know the rules; a config parsed on its own does not judge patterns.
   */
  loadedRuleIds?: readonly string[];
}

/** `file:line: message` */
export const formatConfigProblem = formatFileProblem;

/** Loads and validates a config file. `env` supplies `${VAR}` values. */
export async function loadDeliveryConfig(file: string, env: NodeJS.ProcessEnv, opts: ConfigCheckOptions = {}): Promise<ConfigLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { config: undefined, problems: [{ file, line: 0, message: `cannot read the config: ${(err as Error).message}` }] };
  }
  return parseDeliveryConfig(file, text, env, opts);
}

/** Loads `--config PATH`, or ./dasguard.yaml when present; undefined when neither. Throws ConfigError listing every problem. */
export async function resolveDeliveryConfig(configPath: string | undefined, env: NodeJS.ProcessEnv, opts: ConfigCheckOptions = {}): Promise<DeliveryConfig | undefined> {
  const file = deliveryConfigFile({ flag: configPath }, { implicit: true });
  if (file === undefined) return undefined;
  const { config, problems } = await loadDeliveryConfig(file, env, opts);
  if (!config) throw new ConfigError(fileProblemsMessage(file, problems));
  return config;
}

export function parseDeliveryConfig(file: string, text: string, env: NodeJS.ProcessEnv, opts: ConfigCheckOptions = {}): ConfigLoadResult {
  const problems = new ProblemList();
  const { docs, ok } = parseYamlFile(file, text, problems);
  if (!ok) return { config: undefined, problems: problems.items };
  if (docs.length !== 1) {
    problems.add({ file, line: docs[1]?.pos.line ?? 1, column: 1 }, docs.length === 0 ? 'the file is empty: expected sinks and routes' : 'expected one YAML document');
    return { config: undefined, problems: problems.items };
  }
  const root = docs[0]!;
  const secrets: string[] = [];
  const value = checkYaml(root, CONFIG_SPEC, { problems, labels: 'entry', env, secrets }) as Parsed | undefined;
  if (value === undefined) return { config: undefined, problems: problems.items };
  crossCheck(root, value, problems);
  if (opts.loadedRuleIds !== undefined) checkRulePatterns(root, value, [...opts.loadedRuleIds, ...BUILTIN_RULE_IDS], problems);
  // Every problem is in: with none, the value checked whole (checkYaml() leaves out only what it reported).
  const inOrder = [...problems.items].sort((a, b) => a.line - b.line || (a.column ?? 0) - (b.column ?? 0));
  if (inOrder.some(isError)) return { config: undefined, problems: inOrder };
  return { config: build(file, value, secrets), problems: inOrder };
}

/** The config the command-line shortcuts mean: one default route to each given sink. */
export function shortcutConfig(opts: { snsTopicArn?: string; slackWebhookUrl?: string; base?: DeliveryConfig }): DeliveryConfig {
  const config: DeliveryConfig = opts.base
    ? { ...opts.base, sinks: { ...opts.base.sinks }, routes: [...opts.base.routes], secrets: [...opts.base.secrets] }
    : { source: 'command line', sinks: {}, routes: [], suppression: [], delivery: {}, secrets: [] };
  if (opts.snsTopicArn !== undefined) {
    const bad = checkText(opts.snsTopicArn, SNS_TOPIC_ARN);
    if ('problem' in bad) throw new ConfigError(`--sns-topic-arn: ${bad.problem}`);
    config.sinks['cli-sns'] = { type: 'sns', topicArn: opts.snsTopicArn };
    config.routes.push({ name: 'cli-sns', sinks: ['cli-sns'], extra: true });
  }
  if (opts.slackWebhookUrl !== undefined) {
    const bad = checkText(opts.slackWebhookUrl, WEBHOOK_URL);
    if ('problem' in bad) throw new ConfigError(`--slack-webhook-url: ${bad.problem}`);
    config.sinks['cli-slack'] = { type: 'slack', url: opts.slackWebhookUrl };
    config.routes.push({ name: 'cli-slack', sinks: ['cli-slack'], extra: true });
    config.secrets.push(opts.slackWebhookUrl);
  }
  return config;
}

/**
 * What checkYaml() returns for the whole file: every part optional (left out when wrong), list items possibly
 * undefined; a suppression window in ms. The cross-checks read this; build() turns it into a DeliveryConfig once no problem was found.
 */
interface Parsed {
  sinks?: Record<string, Partial<SinkConfig>>;
  routes?: (Partial<RouteConfig> & { sinks?: (string | undefined)[]; rules?: (string | undefined)[] } | undefined)[];
  suppression?: ({ rules?: (string | undefined)[]; window?: number; keys?: (string | undefined)[] } | undefined)[];
  delivery?: DeliverySettings;
  clusters?: Record<string, string>;
  coordination?: { type?: 'file' | 'dynamodb'; leaseTable?: string; leaseDuration?: number; createTable?: boolean; stateTable?: string };
}

function build(source: string, v: Parsed, secrets: string[]): DeliveryConfig {
  const supp = (v.suppression ?? []) as { rules: string[]; window: number; keys?: string[] }[];
  return {
    source,
    sinks: v.sinks as Record<string, SinkConfig>,
    routes: v.routes as RouteConfig[],
    suppression: supp.map((s) => ({ rules: s.rules, windowMs: s.window, keys: s.keys ?? [] })),
    delivery: v.delivery ?? {},
    ...(v.clusters !== undefined ? { clusters: v.clusters } : {}),
    ...(v.coordination !== undefined ? { coordination: coordinationOf(v.coordination) } : {}),
    secrets,
  };
}

function coordinationOf(c: NonNullable<Parsed['coordination']>): CoordinationConfig {
  const out: CoordinationConfig = {};
  if (c.type !== undefined) out.type = c.type;
  if (c.leaseTable !== undefined) out.leaseTable = c.leaseTable;
  if (c.leaseDuration !== undefined) out.leaseDurationMs = c.leaseDuration;
  if (c.createTable !== undefined) out.createTable = c.createTable;
  if (c.stateTable !== undefined) out.stateTable = c.stateTable;
  return out;
}

/**
 * Names that must refer to something: route sinks, the fallback sink; route names unique. Runs on what checked:
 * a name is judged against the sinks the file DEFINES (even one whose definition has its own problem, which was
 * reported already), so that one mistake is reported once.
 */
function crossCheck(root: YNode, v: Parsed, problems: ProblemList): void {
  const sinksNode = nodeAt(root, ['sinks']);
  // without a `sinks` mapping (missing or wrong, already reported) no sink name can be judged
  const judgeNames = sinksNode?.kind === 'map';
  const defined = sinksNode?.kind === 'map' ? sinksNode.entries.map((e) => e.key) : [];
  const known = new Set(defined);
  const at = (path: (string | number)[]): Pos => nodeAt(root, path)?.pos ?? root.pos;
  const has = (path: (string | number)[]): boolean => nodeAt(root, path) !== undefined;
  const seen = new Map<string, number>();
  (v.routes ?? []).forEach((r, i) => {
    if (r === undefined) return;
    const label = r.name ?? `${i + 1}`;
    if (r.name !== undefined) {
      const prev = seen.get(r.name);
      if (prev !== undefined) problems.add(at(['routes', i, 'name']), `route name '${r.name}' is already used by route ${prev + 1}`);
      else seen.set(r.name, i);
    }
    (r.sinks ?? []).forEach((s, j) => {
      if (judgeNames && s !== undefined && !known.has(s)) problems.add(at(['routes', i, 'sinks', j]), `route '${label}': no sink named '${s}'${didYouMean(s, defined)} (sinks: ${defined.join(', ') || 'none'})`);
    });
    if (r.default && (has(['routes', i, 'severity']) || has(['routes', i, 'tags']) || has(['routes', i, 'rules']))) {
      problems.add(at(['routes', i, 'default']), `route '${label}': a default route takes what no other route matched; it cannot also have severity, tags or rules`);
    }
  });
  const fb = v.delivery?.fallbackSink;
  if (judgeNames && fb !== undefined && !known.has(fb)) problems.add(at(['delivery', 'fallbackSink']), `fallbackSink: no sink named '${fb}'${didYouMean(fb, defined)}`);
  for (const [name, s] of Object.entries(v.sinks ?? {})) {
    if (s.type === 'sns' && s.topicArn !== undefined && s.region === undefined && s.topicArn.split(':')[3] === '') problems.add(at(['sinks', name]), `sink '${name}': no region in the topic ARN: set region`);
  }
}

/** Every `rules:` pattern (routes, suppression) must match a rule id: one that matches none is surely a typo. */
function checkRulePatterns(root: YNode, v: Parsed, ruleIds: readonly string[], problems: ProblemList): void {
  const judge = (patterns: (string | undefined)[] | undefined, path: (string | number)[], label: string) => {
    (patterns ?? []).forEach((p, j) => {
      if (p === undefined) return;
      const re = globToRegExp(p);
      if (ruleIds.some((id) => re.test(id))) return;
      // a suggestion only for a plain id: for a glob, the nearest id says little
      const hint = /[*?]/.test(p) ? '' : didYouMean(p, ruleIds);
      problems.add(nodeAt(root, [...path, j])?.pos ?? root.pos, `${label}: rules pattern '${p}' matches no loaded rule and no built-in alert${hint}`);
    });
  };
  (v.routes ?? []).forEach((r, i) => r && judge(r.rules, ['routes', i, 'rules'], `route '${r.name ?? i + 1}'`));
  (v.suppression ?? []).forEach((s, i) => s && judge(s.rules, ['suppression', i, 'rules'], `suppression ${i + 1}`));
}

function nodeAt(node: YNode, path: (string | number)[]): YNode | undefined {
  let cur: YNode | undefined = node;
  for (const p of path) {
    if (cur === undefined) return undefined;
    if (typeof p === 'number') cur = cur.kind === 'seq' ? cur.items[p] : undefined;
    else cur = cur.kind === 'map' ? cur.entries.find((e) => e.key === p)?.value : undefined;
  }
  return cur;
}
