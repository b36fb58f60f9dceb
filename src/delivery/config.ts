/**
 * `dasguard.yaml`: read -> parse (YAML with positions, src/rules/yamlTree.ts) -> substitute `${ENV}` -> check
 * against CONFIG_SPEC -> cross-check names, collecting EVERY problem as `file:line: message`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { didYouMean } from '../rules/fields.js';
import { ProblemList, fileProblemsMessage, formatFileProblem, isError, type Pos, type RuleProblem } from '../rules/problems.js';
import { describeNode, parseYamlFile, type YNode } from '../rules/yamlTree.js';
import type { Severity } from '../types.js';
import { CONFIG_SPEC, DURATION_RE, type RouteRedaction, type Spec } from './configSchema.js';

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
  redaction?: RouteRedaction;
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

export interface DeliveryConfig {
  /** Where it came from (a file, or `command line`). */
  source: string;
  sinks: Record<string, SinkConfig>;
  routes: RouteConfig[];
  suppression: SuppressionConfig[];
  delivery: DeliverySettings;
  /** Every secret value (webhook URLs, header values), to mask in logs and errors. */
  secrets: string[];
}

export interface ConfigLoadResult {
  config: DeliveryConfig | undefined;
  problems: RuleProblem[];
}

export const DEFAULT_CONFIG_FILE = 'dasguard.yaml';

/** `file:line: message` */
export const formatConfigProblem = formatFileProblem;

/** Loads and validates a config file. `env` supplies `${VAR}` values. */
export async function loadDeliveryConfig(file: string, env: NodeJS.ProcessEnv): Promise<ConfigLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { config: undefined, problems: [{ file, line: 0, message: `cannot read the config: ${(err as Error).message}` }] };
  }
  return parseDeliveryConfig(file, text, env);
}

/** Loads `--config PATH`, or ./dasguard.yaml when present; undefined when neither. Throws ConfigError listing every problem. */
export async function resolveDeliveryConfig(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<DeliveryConfig | undefined> {
  const file = configPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (file === undefined) return undefined;
  const { config, problems } = await loadDeliveryConfig(file, env);
  if (!config) throw new ConfigError(fileProblemsMessage(file, problems));
  return config;
}

export function parseDeliveryConfig(file: string, text: string, env: NodeJS.ProcessEnv): ConfigLoadResult {
  const problems = new ProblemList();
  const { docs, ok } = parseYamlFile(file, text, problems);
  if (!ok) return { config: undefined, problems: problems.items };
  if (docs.length !== 1) {
    problems.add({ file, line: docs[1]?.pos.line ?? 1, column: 1 }, docs.length === 0 ? 'the file is empty: expected sinks and routes' : 'expected one YAML document');
    return { config: undefined, problems: problems.items };
  }
  const root = docs[0]!;
  const secrets: string[] = [];
  const value = check(root, CONFIG_SPEC, problems, env, secrets) as Record<string, unknown> | undefined;
  if (value === undefined) return { config: undefined, problems: problems.items };
  const config = build(file, value, secrets);
  crossCheck(root, config, problems);
  const failed = problems.items.some(isError);
  return { config: failed ? undefined : config, problems: problems.items };
}

/** The config the command-line shortcuts mean: one default route to each given sink. */
export function shortcutConfig(opts: { snsTopicArn?: string; slackWebhookUrl?: string; base?: DeliveryConfig }): DeliveryConfig {
  const config: DeliveryConfig = opts.base
    ? { ...opts.base, sinks: { ...opts.base.sinks }, routes: [...opts.base.routes], secrets: [...opts.base.secrets] }
    : { source: 'command line', sinks: {}, routes: [], suppression: [], delivery: {}, secrets: [] };
  if (opts.snsTopicArn !== undefined) {
    if (!new RegExp(snsArnPattern()).test(opts.snsTopicArn)) throw new ConfigError(`--sns-topic-arn: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME); got "${opts.snsTopicArn}"`);
    config.sinks['cli-sns'] = { type: 'sns', topicArn: opts.snsTopicArn };
    config.routes.push({ name: 'cli-sns', sinks: ['cli-sns'], extra: true });
  }
  if (opts.slackWebhookUrl !== undefined) {
    if (!/^https?:\/\//.test(opts.slackWebhookUrl)) throw new ConfigError('--slack-webhook-url: expected an http(s) URL');
    config.sinks['cli-slack'] = { type: 'slack', url: opts.slackWebhookUrl };
    config.routes.push({ name: 'cli-slack', sinks: ['cli-slack'], extra: true });
    config.secrets.push(opts.slackWebhookUrl);
  }
  return config;
}

function snsArnPattern(): string {
  const sns = CONFIG_SPEC.properties.sinks;
  if (sns?.type !== 'map' || sns.values.type !== 'tagged') throw new Error('CONFIG_SPEC changed shape');
  const arn = sns.values.variants.sns!.properties.topicArn;
  return arn?.type === 'string' && arn.pattern ? arn.pattern : '^arn:';
}

const ENV_RE = /\$\{([^}]*)\}|\$\$/g;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `${VAR}` replaced from env (`$$` is a literal `$`); each unset or malformed variable is a problem at `pos`. */
function substitute(text: string, pos: Pos, env: NodeJS.ProcessEnv, problems: ProblemList): { value: string; substituted: boolean } {
  let substituted = false;
  const value = text.replace(ENV_RE, (m, name: string | undefined) => {
    if (name === undefined) return '$';
    substituted = true;
    if (!ENV_NAME_RE.test(name)) {
      problems.add(pos, `bad environment variable reference \${${name}}: expected \${NAME} (letters, digits, _)`);
      return '';
    }
    const v = env[name];
    if (v === undefined || v === '') {
      problems.add(pos, `environment variable ${name} is not set (referenced as \${${name}})`);
      return '';
    }
    return v;
  });
  return { value, substituted };
}

/** Checks `node` against `spec`; returns the plain value (undefined when wrong), adding each problem. */
function check(node: YNode, spec: Spec, problems: ProblemList, env: NodeJS.ProcessEnv, secrets: string[], where = ''): unknown {
  const bad = (what: string): undefined => {
    problems.add(node.pos, `${where ? `${where}: ` : ''}expected ${what}, got ${describeNode(node)}`);
    return undefined;
  };
  switch (spec.type) {
    case 'string': {
      if (node.kind !== 'scalar' || node.value === null || typeof node.value === 'boolean') return bad('text');
      const raw = String(node.value);
      const before = problems.items.length;
      const { value, substituted } = substitute(raw, node.pos, env, problems);
      if (problems.items.length > before) return undefined;
      if (spec.enum && !spec.enum.includes(value)) {
        problems.add(node.pos, `${where ? `${where}: ` : ''}"${value}" is not one of ${spec.enum.join(', ')}${didYouMean(value, spec.enum)}`);
        return undefined;
      }
      if (spec.pattern && !new RegExp(spec.pattern).test(value)) {
        const shown = spec.secret || substituted ? '(value hidden)' : `"${value}"`;
        problems.add(node.pos, `${where ? `${where}: ` : ''}expected ${spec.patternHint ?? `text matching ${spec.pattern}`}, got ${shown}`);
        return undefined;
      }
      if (spec.secret) secrets.push(value);
      return value;
    }
    case 'integer': {
      const v = node.kind === 'scalar' ? node.value : undefined;
      if (typeof v !== 'number' || !Number.isInteger(v)) return bad('a whole number');
      if (v < spec.minimum || (spec.maximum !== undefined && v > spec.maximum)) {
        problems.add(node.pos, `${where ? `${where}: ` : ''}${v} is out of range (${spec.minimum}..${spec.maximum ?? '∞'})`);
        return undefined;
      }
      return v;
    }
    case 'boolean':
      if (node.kind !== 'scalar' || typeof node.value !== 'boolean') return bad('true or false');
      return node.value;
    case 'array': {
      if (node.kind !== 'seq') return bad('a list');
      if (spec.minItems !== undefined && node.items.length < spec.minItems) {
        problems.add(node.pos, `${where ? `${where}: ` : ''}expected at least ${spec.minItems} item${spec.minItems === 1 ? '' : 's'}`);
        return undefined;
      }
      const out = node.items.map((it) => check(it, spec.items, problems, env, secrets, where));
      return out.includes(undefined) ? undefined : out;
    }
    case 'map': {
      if (node.kind !== 'map') return bad('a mapping');
      const out: Record<string, unknown> = {};
      let okAll = true;
      for (const e of node.entries) {
        if (!new RegExp(spec.keyPattern).test(e.key)) {
          problems.add(e.keyPos, `bad name '${e.key}' (expected text matching ${spec.keyPattern})`);
          okAll = false;
          continue;
        }
        const v = check(e.value, spec.values, problems, env, secrets, e.key);
        if (v === undefined) okAll = false;
        else out[e.key] = v;
      }
      return okAll ? out : undefined;
    }
    case 'tagged': {
      if (node.kind !== 'map') return bad('a mapping');
      const typeEntry = node.entries.find((e) => e.key === 'type');
      const kinds = Object.keys(spec.variants);
      if (!typeEntry) {
        problems.add(node.pos, `${where ? `${where}: ` : ''}missing 'type' (one of ${kinds.join(', ')})`);
        return undefined;
      }
      const t = typeEntry.value.kind === 'scalar' ? String(typeEntry.value.value) : '';
      const variant = spec.variants[t];
      if (!variant) {
        problems.add(typeEntry.value.pos, `${where ? `${where}: ` : ''}unknown sink type ${describeNode(typeEntry.value)}${didYouMean(t, kinds)} (expected ${kinds.join(', ')})`);
        return undefined;
      }
      return check(node, variant, problems, env, secrets, where);
    }
    case 'object': {
      if (node.kind !== 'map') return bad('a mapping');
      const out: Record<string, unknown> = {};
      let okAll = true;
      const keys = Object.keys(spec.properties);
      for (const e of node.entries) {
        const sub = spec.properties[e.key];
        if (!sub) {
          problems.add(e.keyPos, `${where ? `${where}: ` : ''}unknown key '${e.key}'${didYouMean(e.key, keys)} (expected ${keys.join(', ')})`);
          okAll = false;
          continue;
        }
        const v = check(e.value, sub, problems, env, secrets, where);
        if (v === undefined) okAll = false;
        else out[e.key] = v;
      }
      for (const r of spec.required ?? []) {
        if (!node.entries.some((e) => e.key === r)) {
          problems.add(node.pos, `${where ? `${where}: ` : ''}missing '${r}'`);
          okAll = false;
        }
      }
      return okAll ? out : undefined;
    }
  }
}

export function parseDuration(text: string): number {
  const m = new RegExp(DURATION_RE).exec(text);
  if (!m) throw new ConfigError(`bad duration "${text}"`);
  const n = Number.parseInt(text, 10);
  const unit = m[1]!;
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

function build(source: string, v: Record<string, unknown>, secrets: string[]): DeliveryConfig {
  const supp = (v.suppression as { rules: string[]; window: string; keys?: string[] }[] | undefined) ?? [];
  return {
    source,
    sinks: v.sinks as Record<string, SinkConfig>,
    routes: v.routes as RouteConfig[],
    suppression: supp.map((s) => ({ rules: s.rules, windowMs: parseDuration(s.window), keys: s.keys ?? [] })),
    delivery: (v.delivery as DeliverySettings | undefined) ?? {},
    secrets,
  };
}

/** Names that must refer to something: route sinks, the fallback sink; route names unique. */
function crossCheck(root: YNode, config: DeliveryConfig, problems: ProblemList): void {
  const sinkNames = Object.keys(config.sinks);
  const at = (path: (string | number)[]): Pos => nodeAt(root, path)?.pos ?? root.pos;
  const seen = new Map<string, number>();
  config.routes.forEach((r, i) => {
    const prev = seen.get(r.name);
    if (prev !== undefined) problems.add(at(['routes', i, 'name']), `route name '${r.name}' is already used by route ${prev + 1}`);
    else seen.set(r.name, i);
    r.sinks.forEach((s, j) => {
      if (!config.sinks[s]) problems.add(at(['routes', i, 'sinks', j]), `route '${r.name}': no sink named '${s}'${didYouMean(s, sinkNames)} (sinks: ${sinkNames.join(', ') || 'none'})`);
    });
    if (r.default && (r.severity !== undefined || r.tags !== undefined || r.rules !== undefined)) {
      problems.add(at(['routes', i, 'default']), `route '${r.name}': a default route takes what no other route matched; it cannot also have severity, tags or rules`);
    }
  });
  const fb = config.delivery.fallbackSink;
  if (fb !== undefined && !config.sinks[fb]) problems.add(at(['delivery', 'fallbackSink']), `fallbackSink: no sink named '${fb}'${didYouMean(fb, sinkNames)}`);
  for (const [name, s] of Object.entries(config.sinks)) {
    if (s.type === 'sns' && s.region === undefined && s.topicArn.split(':')[3] === '') problems.add(at(['sinks', name]), `sink '${name}': no region in the topic ARN: set region`);
  }
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
