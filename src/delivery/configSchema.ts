/**
 * The ONE definition of `dasguard.yaml`, in the spec language of src/config/spec.ts: the validator
 * (src/delivery/config.ts) walks it with the spec engine to check a file and collect every problem at its line, and
 * `toJsonSchema()` turns it into schema/dasguard.schema.json for editors. A new setting is one more entry here (and
 * its field in the DeliveryConfig types of config.ts, which build() fills).
 */
import { toJsonSchema as specJsonSchema, type ArraySpec, type IntegerSpec, type ObjectSpec, type StringSpec } from '../config/spec.js';
import { REDACTION_MODES } from '../redaction/index.js';
import { BUILTIN_FACT_KEYS } from '../builtinAlerts.js';
import { ACTIVITY_FIELD_SPECS, RDS_EVENT_FIELDS } from '../rules/fields.js';
import { Severities } from '../types.js';
import { RESOURCE_ID_HINT, RESOURCE_ID_PATTERN } from '../sources/streamName.js';

const NAME_RE = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

/**
 * What suppression `keys` may name: a field of the event of some alert: an activity event, an RDS event
 * (`target: rds-event` rules) or the facts of dasguard's own alerts (stream health, delivery). The local-time fields
 * (hour, weekday...) are computed for rules and are not on the alert's event: not keys.
 */
const ACTIVITY_EVENT_FIELDS = Object.keys(ACTIVITY_FIELD_SPECS).filter((f) => ACTIVITY_FIELD_SPECS[f]?.localTime !== true);
const ALERT_EVENT_FIELDS: readonly string[] = [...new Set([...ACTIVITY_EVENT_FIELDS, ...Object.keys(RDS_EVENT_FIELDS), ...BUILTIN_FACT_KEYS])].sort();

/** An SNS topic ARN (also the Lambda's DASGUARD_SNS_TOPIC_ARN and the CLI's --sns-topic-arn). */
export const SNS_TOPIC_ARN: StringSpec = { type: 'string', pattern: '^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$', patternHint: 'an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)', description: 'Topic ARN; a name ending in .fifo makes a FIFO topic (MessageGroupId = cluster, MessageDeduplicationId = alert id).' };
/** A webhook URL: a secret (also the Lambda's DASGUARD_SLACK_WEBHOOK_URL). */
export const WEBHOOK_URL: StringSpec = { type: 'string', pattern: '^https?://', patternHint: 'an http(s) URL', secret: true, description: 'Incoming webhook URL: a secret, write ${SLACK_WEBHOOK_URL}.' };

const timeoutMs: IntegerSpec = { type: 'integer', minimum: 100, maximum: 300_000, description: 'Per-request timeout in milliseconds (default 10000).' };

const sinkVariants: Record<string, ObjectSpec> = {
  sns: {
    type: 'object',
    description: 'Amazon SNS topic (standard or FIFO). Needs sns:Publish on the topic (and kms:GenerateDataKey + kms:Decrypt on its key when the topic is encrypted).',
    properties: {
      type: { type: 'string', enum: ['sns'], description: 'Sink type.' },
      topicArn: SNS_TOPIC_ARN,
      region: { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$', patternHint: 'an AWS region such as eu-west-1', description: 'Region of the topic (default: the region in topicArn).' },
      batch: { type: 'boolean', description: 'Use PublishBatch (up to 10 alerts per call) when alerts queue up (default true).' },
      endpoint: { type: 'string', pattern: '^https?://', patternHint: 'an http(s) URL', description: 'Endpoint URL (a VPC interface endpoint); default: the SDK\'s, or AWS_ENDPOINT_URL_SNS.' },
      timeoutMs,
    },
    required: ['type', 'topicArn'],
  },
  slack: {
    type: 'object',
    description: 'Slack incoming webhook (Block Kit message).',
    properties: {
      type: { type: 'string', enum: ['slack'], description: 'Sink type.' },
      url: WEBHOOK_URL,
      timeoutMs,
    },
    required: ['type', 'url'],
  },
  webhook: {
    type: 'object',
    description: 'Generic webhook: the alert as a JSON POST.',
    properties: {
      type: { type: 'string', enum: ['webhook'], description: 'Sink type.' },
      url: { type: 'string', pattern: '^https?://', patternHint: 'an http(s) URL', secret: true, description: 'Endpoint URL (may hold a secret: write ${VAR}).' },
      headers: {
        type: 'map',
        keyPattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        values: { type: 'string', secret: true, description: 'Header value (${VAR} for secrets).' },
        description: 'Extra request headers, e.g. Authorization: Bearer ${SIEM_TOKEN}.',
      },
      timeoutMs,
    },
    required: ['type', 'url'],
  },
  console: {
    type: 'object',
    description: 'Print alerts on stdout or stderr.',
    properties: {
      type: { type: 'string', enum: ['console'], description: 'Sink type.' },
      stream: { type: 'string', enum: ['stdout', 'stderr'], description: 'Where to print (default stdout).' },
      format: { type: 'string', enum: ['text', 'jsonl'], description: 'text for people (default), jsonl for machines.' },
    },
    required: ['type'],
  },
  file: {
    type: 'object',
    description: 'Append alerts to a JSON Lines file (mode 0600, fsync per batch).',
    properties: {
      type: { type: 'string', enum: ['file'], description: 'Sink type.' },
      path: { type: 'string', description: 'File path.' },
    },
    required: ['type', 'path'],
  },
};

const globList = (what: string): ArraySpec => ({ type: 'array', minItems: 1, items: { type: 'string', description: `${what} glob (* and ?)` }, description: `Matches when any ${what} matches any of these globs (* and ?).` });

export const CONFIG_SPEC: ObjectSpec = {
  type: 'object',
  description: 'dasguard alert delivery: sinks (where alerts go), routes (which alerts go where), suppression and the outbox.',
  properties: {
    version: { type: 'integer', minimum: 1, maximum: 1, description: 'Format version: 1.' },
    sinks: { type: 'map', keyPattern: NAME_RE, values: { type: 'tagged', what: 'sink type', variants: sinkVariants, description: 'A sink.' }, description: 'Sinks by name.' },
    routes: {
      type: 'array',
      minItems: 1,
      description: 'Every route whose conditions all hold sends the alert to its sinks; default routes take the alerts no other route took.',
      items: {
        type: 'object',
        description: 'A route.',
        properties: {
          name: { type: 'string', pattern: NAME_RE, patternHint: 'letters, digits, _ . -', description: 'Route name (alert-test --route NAME).' },
          sinks: { type: 'array', minItems: 1, items: { type: 'string', description: 'A sink name.' }, description: 'Sinks that receive the alerts.' },
          severity: { type: 'string', enum: Severities, description: 'Minimum severity.' },
          tags: globList('tag'),
          rules: globList('rule id'),
          default: { type: 'boolean', description: 'Takes the alerts that no other route matched.' },
          redaction: { type: 'string', enum: REDACTION_MODES, description: 'literals (default): literals and comments in statements, bind values and the values quoted in server messages masked; full: statement text, bind values, comments and server messages removed; none: as the rules produced them (never looser than --redaction).' },
        },
        required: ['name', 'sinks'],
      },
    },
    suppression: {
      type: 'array',
      description: 'Realert windows: within a window, alerts of a rule with the same key fields are counted, not sent; a digest carries the count.',
      items: {
        type: 'object',
        description: 'A suppression window.',
        properties: {
          rules: globList('rule id'),
          window: { type: 'duration', minimumMs: 0, description: 'Window length: a number and a unit (ms, s, m, h), e.g. 30s, 1.5m, 10m.' },
          keys: {
            type: 'array',
            items: { type: 'string', known: { values: ALERT_EVENT_FIELDS, what: 'suppression key' }, description: 'A field of the alert\'s event.' },
            description: 'Event fields that tell alerts apart (e.g. dbUserName, remoteHost; for health alerts their facts, e.g. instanceId); the rule id always does.',
          },
        },
        required: ['rules', 'window'],
      },
    },
    clusters: {
      type: 'map',
      keyPattern: RESOURCE_ID_PATTERN.source,
      keyHint: RESOURCE_ID_HINT,
      values: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]{0,62}$', patternHint: 'a DB cluster identifier (a letter, then up to 62 letters, digits and hyphens)', description: 'The cluster\'s name (DBClusterIdentifier).' },
      description: 'Cluster names by DAS resource id (cluster-…: DbClusterResourceId), shown in alerts next to the id: e.g. cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ: payments-prod. run --cluster learns its own from RDS.',
    },
    delivery: {
      type: 'object',
      description: 'Outbox, retries and dead letters.',
      properties: {
        outboxDir: { type: 'string', description: 'Durable outbox directory (default .dasguard/outbox; --outbox-dir wins).' },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 1000, description: 'Attempts per alert and sink before the dead-letter file (default 20: with the default backoff, at least 6.5 minutes of outage, about 10 on average).' },
        initialBackoffMs: { type: 'integer', minimum: 1, description: 'First retry delay (default 500); doubles each time up to maxBackoffMs, half of each delay random (equal jitter).' },
        maxBackoffMs: { type: 'integer', minimum: 1, description: 'Longest retry delay (default 60000).' },
        drainTimeoutMs: { type: 'integer', minimum: 0, description: 'How long close() waits for the outbox to drain (default 30000).' },
        concurrency: { type: 'integer', minimum: 1, maximum: 64, description: 'Requests in flight per sink (default 4).' },
        fallbackSink: { type: 'string', description: 'Sink that receives delivery-failure alerts (default: console on stderr).' },
      },
    },
    coordination: {
      type: 'object',
      description: "How `run` shares a stream's shards with other `run` processes and its correlation state with them and the Lambda (flags win: --coordination, --lease-table, --lease-duration, --state-table, --no-create-table, --worker-id).",
      properties: {
        type: { type: 'string', enum: ['file', 'dynamodb'], description: 'file (default): one process, checkpoints in --checkpoint-dir; dynamodb: leases and checkpoints in a DynamoDB lease table, shards balanced between the processes.' },
        leaseTable: { type: 'string', pattern: '^[A-Za-z0-9_.-]{3,255}$', patternHint: 'a DynamoDB table name (3 to 255 letters, digits, _ . -)', description: 'The lease table (one per stream): one item per shard, with the attribute names of the Kinesis Client Library.' },
        leaseDuration: { type: 'duration', minimumMs: 300, description: "A lease whose counter has not moved for this long (on the taking worker's own clock) is expired and taken over (default 10s)." },
        createTable: { type: 'boolean', description: 'Create the lease table and the state table (on-demand billing) when they do not exist (default true).' },
        stateTable: { type: 'string', pattern: '^[A-Za-z0-9_.-]{3,255}$', patternHint: 'a DynamoDB table name (3 to 255 letters, digits, _ . -)', description: "Keep correlation rules' state in this DynamoDB table (created when absent: on-demand, TTL), shared with every run and Lambda using it, instead of a file in --state-dir (docs/rules.md \"Shared state\")." },
      },
    },
  },
  required: ['sinks', 'routes'],
};

/** JSON Schema (draft-07) of dasguard.yaml, for editors (yaml-language-server). */
export function toJsonSchema(): Record<string, unknown> {
  return specJsonSchema(CONFIG_SPEC, { $id: 'https://github.com/dasguard/dasguard/schema/dasguard.schema.json', title: 'dasguard.yaml' });
}
