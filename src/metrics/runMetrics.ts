/**
 * `run`'s Prometheus metrics: a fresh prom-client Registry (never the global one) whose metrics are read at scrape
 * time from the snapshots the run keeps anyway (the consumer's PipelineStats and shard statuses, the key provider's
 * counters, the outbox dispatcher's per-sink counts): nothing is counted twice and the record path is untouched.
 * The process's memory and CPU are prom-client's default metrics (process_*, nodejs_*), on the same registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { ConsumerStats } from '../consumer/types.js';
import type { SinkDeliveryStats } from '../delivery/Dispatcher.js';
import { EVALUATION_BUCKETS, type PipelineStats } from '../pipeline/PipelineStats.js';

/** Where the metrics come from, read at each scrape. */
export interface RunMetricsSource {
  /** Undefined while `run` is starting. */
  consumer(): { stats(): ConsumerStats; pipelineStats(): Readonly<PipelineStats> } | undefined;
  /** Per sink of the outbox; empty without one. */
  sinks(): readonly SinkDeliveryStats[];
  now?: () => number;
}

export function runRegistry(source: RunMetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const now = source.now ?? Date.now;
  // Snapshots are cheap (counters and one status per shard): each metric takes its own.
  const consumer = () => {
    const c = source.consumer();
    return c ? { stats: c.stats(), pipeline: c.pipelineStats() } : undefined;
  };

  const total = (name: string, help: string, value: (c: NonNullable<ReturnType<typeof consumer>>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const c = consumer();
        this.inc(c ? value(c) : 0);
      },
    });
  total('dasguard_records_total', 'Kinesis records processed (alerts handed off, checkpoint may pass them).', (c) => c.stats.pipeline.records);
  total('dasguard_events_total', 'Database activity events decoded.', (c) => c.stats.pipeline.events);
  total('dasguard_heartbeats_total', 'Heartbeat events decoded (never evaluated).', (c) => c.stats.pipeline.heartbeats);
  total('dasguard_kms_calls_total', 'Data key decryptions that reached KMS (or the local key file).', (c) => c.stats.keys?.backendCalls ?? 0);
  total('dasguard_data_key_cache_hits_total', 'Data keys served from the cache.', (c) => c.stats.keys?.cacheHits ?? 0);
  total('dasguard_data_key_cache_misses_total', 'Data keys not in the cache.', (c) => c.stats.keys?.cacheMisses ?? 0);

  new Counter({
    name: 'dasguard_alerts_total',
    help: 'Alerts the rules raised on records, by rule and severity.',
    labelNames: ['rule', 'severity'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [rule, bySeverity] of consumer()?.pipeline.alertsByRuleAndSeverity ?? []) {
        for (const [severity, n] of bySeverity) this.inc({ rule, severity }, n);
      }
    },
  });
  new Counter({
    name: 'dasguard_quarantined_total',
    help: 'Records and events quarantined (poison: counted, logged, passed), by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of consumer()?.pipeline.quarantinedByReason ?? []) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'dasguard_shard_lag_seconds',
    help: 'MillisBehindLatest of the last GetRecords answer, in seconds, per shard being read.',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of consumer()?.stats.shards ?? []) if (s.state === 'reading' && s.lagMs !== null) this.set({ shard: s.shardId }, s.lagMs / 1000);
    },
  });
  new Gauge({
    name: 'dasguard_shard_idle_seconds',
    help: 'Seconds since the shard last made progress (a GetRecords answer or a record committed), per shard being read.',
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      this.reset();
      const t = now();
      for (const s of consumer()?.stats.shards ?? []) if (s.state === 'reading') this.set({ shard: s.shardId }, (t - s.lastProgressAt) / 1000);
    },
  });
  new Gauge({
    name: 'dasguard_checkpoint_age_seconds',
    help: 'Seconds since checkpoints were last written (absent before the first write).',
    registers: [registry],
    collect() {
      this.reset();
      const at = consumer()?.stats.lastCheckpointAt;
      if (at !== undefined && at !== null) this.set((now() - at) / 1000);
    },
  });

  const perSink = (name: string, help: string, type: 'counter' | 'gauge', value: (s: SinkDeliveryStats) => number | undefined) => {
    const collect = function (this: Counter | Gauge) {
      this.reset();
      for (const s of source.sinks()) {
        const v = value(s);
        if (v === undefined) continue;
        if (this instanceof Counter) this.inc({ sink: s.sink }, v);
        else this.set({ sink: s.sink }, v);
      }
    };
    const opts = { name, help, labelNames: ['sink'] as const, registers: [registry], collect };
    return type === 'counter' ? new Counter(opts) : new Gauge(opts);
  };
  perSink('dasguard_outbox_pending', 'Alert deliveries waiting in the outbox, per sink.', 'gauge', (s) => s.pending);
  perSink('dasguard_outbox_oldest_pending_seconds', 'Seconds the oldest pending delivery of the sink has waited (absent when none).', 'gauge', (s) =>
    s.oldestPendingAt === null ? undefined : (now() - s.oldestPendingAt) / 1000,
  );
  perSink('dasguard_deliveries_total', 'Alerts delivered, per sink.', 'counter', (s) => s.delivered);
  perSink('dasguard_delivery_retries_total', 'Deliveries that failed and were retried, per sink.', 'counter', (s) => s.retries);
  perSink('dasguard_dead_lettered_total', 'Deliveries given up (in the dead-letter file), per sink.', 'counter', (s) => s.deadLettered);

  registry.registerMetric(new EvaluationHistogram(() => consumer()?.pipeline.evaluation));
  return registry;
}

const EVALUATION_NAME = 'dasguard_rule_evaluation_seconds';
const EVALUATION_HELP = "Time a record's events took through the rules.";

/**
 * The PipelineStats histogram of rule evaluation times (observed on the record path already), exposed as it is:
 * prom-client's own Histogram can only be observed, so this one answers `get` from the snapshot.
 */
class EvaluationHistogram extends Histogram {
  readonly #read: () => PipelineStats['evaluation'] | undefined;

  constructor(read: () => PipelineStats['evaluation'] | undefined) {
    super({ name: EVALUATION_NAME, help: EVALUATION_HELP, buckets: [...EVALUATION_BUCKETS], registers: [] });
    this.#read = read;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const name = EVALUATION_NAME;
    const h = this.#read() ?? { counts: new Array<number>(EVALUATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
    const values: MetricValueWithName<string>[] = [];
    let acc = 0;
    EVALUATION_BUCKETS.forEach((le, i) => {
      acc += h.counts[i]!;
      values.push({ metricName: `${name}_bucket`, labels: { le }, value: acc });
    });
    values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
    values.push({ metricName: `${name}_sum`, labels: {}, value: h.sum });
    values.push({ metricName: `${name}_count`, labels: {}, value: h.count });
    return { name, help: EVALUATION_HELP, type: 'histogram' as unknown as MetricObjectWithValues<MetricValueWithName<string>>['type'], values, aggregator: 'sum', collect: () => undefined };
  }

  /** What the registry's text format reads (prom-client's own would read the unobserved histogram). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.get();
  }
}
