/**
 * The option groups several commands share (input: replay, decode, and its decoding flags run; delivery: replay,
 * run, alert-test, outbox), spread into their tables (or picked, `pickOptions`), with the functions that turn
 * their parsed values into the commands' typed options; and the value checks every flag uses (whole numbers, one-of, severities, durations). A new shared flag is one
 * entry in its group here.
 */
import { UsageError } from '../errors.js';
import { Severities, type Severity } from '../types.js';
import { REDACTION_MODES, type RedactionMode } from '../redaction/index.js';
import { DEFAULT_OUTBOX_DIR, SETTINGS } from '../config/layers.js';
import { LOG_LEVELS, LOG_LEVEL_ENV, type LogLevel } from '../log/logger.js';
import { durationProblem, parseDuration } from '../config/duration.js';
import { resourceIdProblem } from '../sources/streamName.js';
import type { DeliveryOptions } from './deliveryOptions.js';
import type { OutputFormat } from '../pipeline/output.js';
import type { OptionDecl, OptionTable, Values } from './command.js';

const REDACTION_HELP =
  'What statement text, bind values and server messages look like in every output:\n' +
  'literals (default: literals, comment text, binds and quoted values masked), full (none of\n' +
  'them at all) or none (as the database wrote them)';

/** --rules as every command that reads rules takes it: repeated (`--rules a --rules b`) or a list (`--rules a,b`). */
export const RULES_OPTION = {
  type: 'string',
  multiple: true,
  commaList: true,
  label: '--rules PATH',
  help: 'Rule file or directory; repeat it or list several (--rules a,b); default ./rules, else\nthe bundled baseline pack',
} as const satisfies OptionDecl;

/**
 * --output: ONE vocabulary for every command. `text` for people; `json` for machines, which means one JSON
 * document for the commands that print one (`status`, `outbox status`) and JSON Lines (one alert per line) for the
 * commands that print alerts (`replay`, `run`, `watch`). `jsonl` is accepted everywhere as the same as `json`.
 */
const OUTPUT_FORMATS = ['text', 'json', 'jsonl'] as const;

/** --output for commands that print alerts (`replay`, `run`, `watch`). */
export const ALERT_OUTPUT_OPTION = {
  type: 'string',
  default: 'text',
  label: '--output text|json',
  help: 'Alerts for people (default) or JSON Lines, one JSON alert per line (jsonl: the same)',
} as const satisfies OptionDecl;

/** --output for commands that print one document (`status`, `outbox status`). */
export const DOCUMENT_OUTPUT_OPTION = {
  type: 'string',
  default: 'text',
  label: '--output text|json',
  help: 'For people (default) or one JSON document (jsonl: the same)',
} as const satisfies OptionDecl;

/** An alert command's --output as the alert reporters name it (src/pipeline/output.ts: `jsonl`). */
export function alertOutputOption(v: string): OutputFormat {
  return oneOf('output', v, OUTPUT_FORMATS) === 'text' ? 'text' : 'jsonl';
}

/** A document command's --output. */
export function documentOutputOption(v: string): 'text' | 'json' {
  return oneOf('output', v, OUTPUT_FORMATS) === 'text' ? 'text' : 'json';
}

/** --loss-patterns as `run` and `watch` take it. */
export const LOSS_PATTERNS_OPTION = {
  type: 'string',
  label: '--loss-patterns FILE',
  help: 'YAML patterns for the RDS events that open and close loss windows (see docs/health.md)',
} as const satisfies OptionDecl;

/** --verbose for commands that print alerts: text lines with the record's position and the rule's runbook. */
export const VERBOSE_OPTION = {
  type: 'boolean',
  default: false,
  label: '--verbose',
  help: 'Text alerts: add the record\'s position (file:line, shard, sequence number) and the runbook',
} as const satisfies OptionDecl;

/** --log-level for the commands that log (`run`, `watch`): log lines below it are not written. */
export const LOG_LEVEL_OPTION = {
  type: 'string',
  label: '--log-level L',
  help: `Log lines on stderr from this level up: ${LOG_LEVELS.join(', ')} (default ${SETTINGS.logLevel.default};\nelse ${LOG_LEVEL_ENV})`,
} as const satisfies OptionDecl;

/**
 * Reading records from files: `replay` and `decode`. Its decoding flags (DECODE_FLAGS) are `run`'s too, taken with
 * `pickOptions` (run's own default and help lines where they differ) and read with `decodeOptions`.
 */
export const INPUT_OPTIONS = {
  'key-file': {
    type: 'string',
    label: '--key-file PATH',
    help: 'Local master-key file (samples, tests); default: AWS KMS via the standard SDK configuration',
  },
  'resource-id': {
    type: 'string',
    label: '--resource-id ID',
    help: 'DAS resource id (cluster-… or db-…) for the KMS encryption context; by default taken from\nthe stream name in the input (StreamName, eventSourceARN) or in the file name',
  },
  strict: { type: 'boolean', default: false, label: '--strict', help: 'Exit 1 when any record or event was quarantined' },
  'quarantine-file': {
    type: 'string',
    label: '--quarantine-file P',
    help: 'Append quarantined records (still encrypted when they were) to P as JSON Lines',
  },
  concurrency: { type: 'string', default: '16', label: '--concurrency N', help: 'Records decoded at once (default 16); output keeps input order' },
  workers: {
    type: 'string',
    default: 'auto',
    label: '--workers N|auto',
    help: 'Decrypt, decode and run the stateless rules in N worker threads; auto (default): one per\ncore for an input file of 8 MB or more (stdin: after 1,000 records); 0: all on the main\nthread. Output, alert ids and order are unchanged',
  },
  redaction: { type: 'string', label: '--redaction MODE', help: REDACTION_HELP },
  quiet: { type: 'boolean', short: 'q', default: false, label: '-q, --quiet', help: 'No summary on stderr' },
} as const satisfies OptionTable;

/** The input group's flags that decode records wherever they come from (`run` takes these from the group). */
export const DECODE_FLAGS = ['key-file', 'resource-id', 'concurrency', 'workers', 'redaction'] as const;
type DecodeFlag = (typeof DECODE_FLAGS)[number];

/** The decoding flags' values as the options `replay`, `decode` and `run` share. */
export function decodeOptions(v: Values<Pick<typeof INPUT_OPTIONS, DecodeFlag>>) {
  return {
    keyFile: v['key-file'],
    resourceId: resourceIdOption(v['resource-id']),
    concurrency: positiveInt('concurrency', v.concurrency),
    workers: workersOption(v.workers),
    redaction: redactionOption(v.redaction),
  };
}

/** The input group's values as the options `replay` and `decode` share. */
export function inputOptions(v: Values<typeof INPUT_OPTIONS>) {
  return {
    ...decodeOptions(v),
    strict: v.strict,
    quarantineFile: v['quarantine-file'],
    summary: !v.quiet,
  };
}

/** What a command may change in a shared flag: its default and its help line (never its type, label or check). */
type OptionOverride = Partial<Pick<OptionDecl, 'default' | 'help'>>;

/**
 * Some flags of a shared group, in the given order, each with the command's own default or help line where
 * `overrides` gives one (`run`: `--concurrency` per shard, default 8). The flag stays the group's otherwise.
 */
export function pickOptions<O extends OptionTable, const K extends keyof O & string>(
  group: O,
  names: readonly K[],
  overrides: { [P in K]?: OptionOverride } = {},
): Pick<O, K> {
  return Object.fromEntries(names.map((name) => [name, { ...group[name], ...overrides[name] }])) as Pick<O, K>;
}

/** Alert delivery (src/delivery): `replay`, `run`, `watch`, `alert-test`, `outbox`. */
export const DELIVERY_OPTIONS = {
  config: {
    type: 'string',
    label: '--config PATH',
    help: 'Alert delivery config (sinks, routes, suppression); default ./dasguard.yaml when present.\nWith delivery configured, alerts go to its sinks through the outbox instead of stdout',
  },
  'sns-topic-arn': { type: 'string', label: '--sns-topic-arn ARN', help: 'Also send every alert to this SNS topic' },
  'slack-webhook-url': { type: 'string', label: '--slack-webhook-url U', help: 'Also send every alert to this Slack incoming webhook' },
  'outbox-dir': { type: 'string', label: '--outbox-dir DIR', help: `Durable outbox for alert delivery (default ${DEFAULT_OUTBOX_DIR})` },
} as const satisfies OptionTable;

/** The delivery group's values as DeliveryOptions (only the flags given). */
export function deliveryOptions(v: Values<typeof DELIVERY_OPTIONS>): DeliveryOptions {
  const o: DeliveryOptions = {};
  if (v.config !== undefined) o.configPath = v.config;
  if (v['sns-topic-arn'] !== undefined) o.snsTopicArn = v['sns-topic-arn'];
  if (v['slack-webhook-url'] !== undefined) o.slackWebhookUrl = v['slack-webhook-url'];
  if (v['outbox-dir'] !== undefined) o.outboxDir = v['outbox-dir'];
  return o;
}

export function severityOption(v: string | undefined): Severity | undefined {
  if (v === undefined) return undefined;
  if (!(Severities as readonly string[]).includes(v)) throw new UsageError(`--fail-on must be one of ${Severities.join(', ')}; got "${v}"`);
  return v as Severity;
}

export function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive whole number; got "${v}"`);
  return n;
}

/** --workers: `auto`, or 0 (everything on the main thread) up to 64 worker threads. */
export type WorkersOption = number | 'auto';

function workersOption(v: string): WorkersOption {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new UsageError(`--workers must be auto or a whole number from 0 to 64; got "${v}"`);
  return n;
}

export function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got "${v}"`);
  return v as T;
}

/** --resource-id: a DAS resource id (the one definition, src/sources/streamName.ts), refused at start otherwise. */
export function resourceIdOption(v: string | undefined): string | undefined {
  const problem = v === undefined ? undefined : resourceIdProblem(v);
  if (problem !== undefined) throw new UsageError(`--resource-id: ${problem}`);
  return v;
}

/** --log-level over DASGUARD_LOG_LEVEL over the default, each checked against the same levels. */
export function logLevelOption(v: string | undefined, env: NodeJS.ProcessEnv): LogLevel {
  if (v !== undefined) return oneOf('log-level', v, LOG_LEVELS);
  const fromEnv = env[LOG_LEVEL_ENV];
  if (fromEnv === undefined || fromEnv === '') return SETTINGS.logLevel.default;
  if (!(LOG_LEVELS as readonly string[]).includes(fromEnv)) {
    throw new UsageError(`${LOG_LEVEL_ENV} must be one of ${LOG_LEVELS.join(', ')}; got "${fromEnv}"`);
  }
  return fromEnv as LogLevel;
}

/** --redaction over the default (src/config/layers.ts), checked like every one-of flag. */
export function redactionOption(v: string | undefined): RedactionMode {
  return oneOf('redaction', v ?? SETTINGS.redaction.default, REDACTION_MODES);
}

/**
 * A duration flag (src/config/duration.ts: `500ms`, `1.5s`, `30s`, `10m`, `1h`) in milliseconds. `offWithZero`:
 * `0` (or `0s`…) means off and gives 0; otherwise zero is refused.
 */
export function durationOption(name: string, v: string, opts: { offWithZero?: boolean } = {}): number {
  if (opts.offWithZero && v.trim() === '0') return 0;
  const problem = durationProblem(v, opts.offWithZero ? 0 : 1);
  if (problem !== undefined) throw new UsageError(`--${name} ${problem}`);
  return parseDuration(v)!;
}
