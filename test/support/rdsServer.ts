/**
 * A loopback Amazon RDS speaking the real wire protocol (AWS query: POST form-urlencoded `Action=...&Version=
 * 2014-10-31`, XML replies in the `http://rds.amazonaws.com/doc/2014-10-31/` namespace, errors as
 * `<ErrorResponse>`), for driving the real RDSClient in tests via `endpoint` config or `AWS_ENDPOINT_URL_RDS`.
 * Member names follow the SDK's schemas (@aws-sdk/client-rds: DBCluster$, Event$, StartActivityStreamResponse$).
 *
 * Actions: DescribeDBClusters, DescribeEvents, StartActivityStream, StopActivityStream. The test owns the model:
 * `clusters` (mutable) and the events list (`addEvent`, returned in the order added, so a test can simulate
 * RDS's unordered, best-effort delivery and duplicates). Faults: `failNext`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startBodyServer } from './loopback.js';

export const RDS_XMLNS = 'http://rds.amazonaws.com/doc/2014-10-31/';

export type ActivityStreamStatus = 'stopped' | 'starting' | 'started' | 'stopping';

export interface ClusterModel {
  identifier: string;
  /** `cluster-…` */
  resourceId: string;
  engine: 'aurora-postgresql' | 'aurora-mysql';
  arn: string;
  activityStream: {
    status: ActivityStreamStatus;
    mode: 'sync' | 'async' | null;
    kmsKeyId: string | null;
    streamName: string | null;
    engineNativeAuditFieldsIncluded: boolean | null;
  };
  /** A start/stop in progress: settles on a DescribeDBClusters after `describesLeft` hits 0 or `at` passes. */
  pending?: { to: 'started' | 'stopped'; describesLeft: number; at: number | null };
}

export interface RdsEventModel {
  sourceIdentifier: string;
  /** `db-cluster`, `db-instance`... */
  sourceType: string;
  message: string;
  eventCategories: string[];
  date: Date;
  sourceArn: string | null;
}

export interface RdsCall {
  action: string;
  params: Record<string, string>;
}

export interface RdsServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Keyed by cluster identifier; tests may add, change or remove clusters at any time. */
  readonly clusters: Map<string, ClusterModel>;
  /** Every event added (in delivery order). */
  readonly events: readonly RdsEventModel[];
  /** Appends an event; missing fields get defaults (source type db-cluster, now, no categories). */
  addEvent(e: Partial<RdsEventModel> & { sourceIdentifier: string; message: string }): RdsEventModel;
  /** Requests received (faulted ones included), in order. */
  readonly calls: readonly RdsCall[];
  /** The next `n` requests (of `action`, or of any action) fail with error `code` and HTTP `status` (default 400). */
  failNext(n: number, code: string, status?: number, action?: string): void;
  close(): Promise<void>;
}

export interface RdsServerOptions {
  /** Initial clusters (see `clusterModel`). */
  clusters?: ClusterModel[];
  /**
   * When a started/stopped activity stream settles: after this many DescribeDBClusters replies still showing
   * `starting`/`stopping` (default 0: the next describe shows `started`), or after `settleAfterMs` if set.
   */
  settleAfterDescribes?: number;
  settleAfterMs?: number;
  /** Add RDS-EVENT-0179 / RDS-EVENT-0180 events when a stream settles started / stopped (default true). */
  activityStreamEvents?: boolean;
  /** The server's clock (default Date.now): DescribeEvents' default window ends now. */
  now?: () => number;
  region?: string;
  accountId?: string;
}

/** A cluster with defaults: an Aurora PostgreSQL cluster with no activity stream. */
export function clusterModel(
  init: Partial<Omit<ClusterModel, 'activityStream'>> & {
    identifier: string;
    activityStream?: Partial<ClusterModel['activityStream']>;
  },
  region = 'us-east-1',
  accountId = '111122223333',
): ClusterModel {
  const resourceId = init.resourceId ?? `cluster-${init.identifier.toUpperCase().replace(/[^A-Z0-9]/g, '')}ABCDEFGHIJ`;
  const stream = init.activityStream ?? {};
  const status = stream.status ?? 'stopped';
  const active = status !== 'stopped';
  return {
    identifier: init.identifier,
    resourceId,
    engine: init.engine ?? 'aurora-postgresql',
    arn: init.arn ?? `arn:aws:rds:${region}:${accountId}:cluster:${init.identifier}`,
    activityStream: {
      status,
      mode: stream.mode !== undefined ? stream.mode : active ? 'async' : null,
      kmsKeyId:
        stream.kmsKeyId !== undefined
          ? stream.kmsKeyId
          : active
            ? `arn:aws:kms:${region}:${accountId}:key/11111111-2222-3333-4444-555555555555`
            : null,
      streamName: stream.streamName !== undefined ? stream.streamName : active ? `aws-rds-das-${resourceId}` : null,
      engineNativeAuditFieldsIncluded: stream.engineNativeAuditFieldsIncluded ?? null,
    },
    ...(init.pending ? { pending: init.pending } : {}),
  };
}

class RdsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** `<Name>value</Name>`, nothing for null/undefined. */
function el(name: string, value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** Values of a query list parameter `Name.<member>.N`, in index order. */
function listParam(params: Record<string, string>, name: string): string[] {
  const re = new RegExp(`^${name}\\.(?:[A-Za-z]+\\.)?(\\d+)$`);
  return Object.entries(params)
    .map(([k, v]) => [re.exec(k)?.[1], v] as const)
    .filter((e): e is readonly [string, string] => e[0] !== undefined)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, v]) => v);
}

function parseDate(params: Record<string, string>, name: string): number | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new RdsFault('InvalidParameterValue', `${name} is not a timestamp: ${v}`);
  return t;
}

function parseIntParam(params: Record<string, string>, name: string): number | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new RdsFault('InvalidParameterValue', `${name} is not an integer: ${v}`);
  return Number(v);
}

export async function startRdsServer(opts: RdsServerOptions = {}): Promise<RdsServer> {
  const now = opts.now ?? Date.now;
  const region = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '111122223333';
  const emitEvents = opts.activityStreamEvents ?? true;
  const clusters = new Map<string, ClusterModel>();
  for (const c of opts.clusters ?? []) clusters.set(c.identifier, c);
  const events: RdsEventModel[] = [];
  const calls: RdsCall[] = [];
  const faults: { remaining: number; code: string; status: number; action: string | undefined }[] = [];
  let requestCount = 0;

  const addEvent: RdsServer['addEvent'] = (e) => {
    const event: RdsEventModel = {
      sourceIdentifier: e.sourceIdentifier,
      sourceType: e.sourceType ?? 'db-cluster',
      message: e.message,
      eventCategories: e.eventCategories ?? [],
      date: e.date ?? new Date(now()),
      sourceArn:
        e.sourceArn !== undefined
          ? e.sourceArn
          : `arn:aws:rds:${region}:${accountId}:${e.sourceType === 'db-instance' ? 'db' : 'cluster'}:${e.sourceIdentifier}`,
    };
    events.push(event);
    return event;
  };

  const settle = (c: ClusterModel): void => {
    const p = c.pending;
    if (p === undefined) return;
    const due = p.at !== null ? now() >= p.at : p.describesLeft-- <= 0;
    if (!due) return;
    delete c.pending;
    const s = c.activityStream;
    s.status = p.to;
    if (p.to === 'stopped') {
      s.mode = null;
      s.kmsKeyId = null;
      s.streamName = null;
      s.engineNativeAuditFieldsIncluded = null;
    }
    if (emitEvents) {
      addEvent({
        sourceIdentifier: c.identifier,
        sourceArn: c.arn,
        eventCategories: ['configuration change'],
        message:
          p.to === 'started'
            ? 'Database Activity Streams is started on your database cluster.'
            : 'Database Activity Streams is stopped on your database cluster.',
      });
    }
  };

  const clusterXml = (c: ClusterModel): string => {
    const s = c.activityStream;
    return (
      '<DBCluster>' +
      el('DBClusterIdentifier', c.identifier) +
      el('DBClusterArn', c.arn) +
      el('DbClusterResourceId', c.resourceId) +
      el('Engine', c.engine) +
      el('EngineVersion', c.engine === 'aurora-mysql' ? '8.0.mysql_aurora.3.05.2' : '15.4') +
      el('Status', 'available') +
      el('ActivityStreamStatus', s.status) +
      el('ActivityStreamMode', s.mode) +
      el('ActivityStreamKmsKeyId', s.kmsKeyId) +
      el('ActivityStreamKinesisStreamName', s.streamName) +
      '</DBCluster>'
    );
  };

  const findByArn = (arn: string | undefined): ClusterModel => {
    if (arn === undefined || arn === '') throw new RdsFault('MissingParameter', 'ResourceArn is required');
    for (const c of clusters.values()) if (c.arn === arn) return c;
    throw new RdsFault('ResourceNotFoundFault', `The specified resource ARN ${arn} was not found.`, 404);
  };

  const actions: Record<string, (p: Record<string, string>) => string> = {
    DescribeDBClusters(p) {
      const id = p.DBClusterIdentifier;
      let list: ClusterModel[];
      if (id !== undefined) {
        const c = clusters.get(id) ?? [...clusters.values()].find((x) => x.arn === id);
        if (c === undefined) throw new RdsFault('DBClusterNotFoundFault', `DBCluster ${id} not found.`, 404);
        list = [c];
      } else {
        list = [...clusters.values()];
      }
      for (const c of list) settle(c);
      return `<DBClusters>${list.map(clusterXml).join('')}</DBClusters>`;
    },

    DescribeEvents(p) {
      const sourceType = p.SourceType;
      const sourceId = p.SourceIdentifier;
      if (sourceId !== undefined && sourceType === undefined) {
        throw new RdsFault('InvalidParameterCombination', 'Cannot specify source identifier without source type');
      }
      const maxRecords = parseIntParam(p, 'MaxRecords') ?? 100;
      if (maxRecords < 20 || maxRecords > 100) {
        throw new RdsFault('InvalidParameterValue', 'MaxRecords must be between 20 and 100');
      }
      const duration = parseIntParam(p, 'Duration');
      const end = parseDate(p, 'EndTime') ?? now();
      const start = parseDate(p, 'StartTime') ?? end - (duration ?? 60) * 60_000;
      const categories = listParam(p, 'EventCategories');
      const matching = events.filter(
        (e) =>
          (sourceType === undefined || e.sourceType === sourceType) &&
          (sourceId === undefined || e.sourceIdentifier === sourceId) &&
          e.date.getTime() >= start &&
          e.date.getTime() <= end &&
          (categories.length === 0 || e.eventCategories.some((c) => categories.includes(c))),
      );
      let offset = 0;
      if (p.Marker !== undefined && p.Marker !== '') {
        const m = /^offset:(\d+)$/.exec(Buffer.from(p.Marker, 'base64').toString('utf8'));
        if (m === null) throw new RdsFault('InvalidParameterValue', `invalid Marker ${p.Marker}`);
        offset = Number(m[1]);
      }
      const page = matching.slice(offset, offset + maxRecords);
      const next = offset + maxRecords < matching.length ? offset + maxRecords : undefined;
      const eventXml = (e: RdsEventModel): string =>
        '<Event>' +
        el('SourceIdentifier', e.sourceIdentifier) +
        el('SourceType', e.sourceType) +
        el('Message', e.message) +
        `<EventCategories>${e.eventCategories.map((c) => el('EventCategory', c)).join('')}</EventCategories>` +
        el('Date', e.date.toISOString()) +
        el('SourceArn', e.sourceArn) +
        '</Event>';
      return (
        `<Events>${page.map(eventXml).join('')}</Events>` +
        (next !== undefined ? el('Marker', Buffer.from(`offset:${next}`).toString('base64')) : '')
      );
    },

    StartActivityStream(p) {
      const c = findByArn(p.ResourceArn);
      const mode = p.Mode;
      if (mode !== 'sync' && mode !== 'async') {
        throw new RdsFault('InvalidParameterValue', `Mode must be sync or async, not ${String(mode)}`);
      }
      if (p.KmsKeyId === undefined || p.KmsKeyId === '') throw new RdsFault('MissingParameter', 'KmsKeyId is required');
      if (c.activityStream.status !== 'stopped') {
        throw new RdsFault(
          'InvalidDBClusterStateFault',
          `The DB cluster ${c.identifier} already has an activity stream (status ${c.activityStream.status}).`,
        );
      }
      const s = c.activityStream;
      s.status = 'starting';
      s.mode = mode;
      s.kmsKeyId = p.KmsKeyId;
      s.streamName = `aws-rds-das-${c.resourceId}`;
      s.engineNativeAuditFieldsIncluded = p.EngineNativeAuditFieldsIncluded === 'true' ? true : null;
      c.pending = {
        to: 'started',
        describesLeft: opts.settleAfterDescribes ?? 0,
        at: opts.settleAfterMs !== undefined ? now() + opts.settleAfterMs : null,
      };
      return (
        el('KmsKeyId', s.kmsKeyId) +
        el('KinesisStreamName', s.streamName) +
        el('Status', s.status) +
        el('Mode', s.mode) +
        el('ApplyImmediately', p.ApplyImmediately === 'true')
      );
    },

    StopActivityStream(p) {
      const c = findByArn(p.ResourceArn);
      const s = c.activityStream;
      if (s.status !== 'started') {
        throw new RdsFault(
          'InvalidDBClusterStateFault',
          `The DB cluster ${c.identifier} has no started activity stream (status ${s.status}).`,
        );
      }
      s.status = 'stopping';
      c.pending = {
        to: 'stopped',
        describesLeft: opts.settleAfterDescribes ?? 0,
        at: opts.settleAfterMs !== undefined ? now() + opts.settleAfterMs : null,
      };
      return el('KmsKeyId', s.kmsKeyId) + el('KinesisStreamName', s.streamName) + el('Status', s.status);
    },
  };

  const send = (res: ServerResponse, status: number, xml: string, requestId: string): void => {
    res.writeHead(status, {
      'content-type': 'text/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amzn-requestid': requestId,
    });
    res.end(xml);
  };
  const sendError = (res: ServerResponse, f: RdsFault, requestId: string): void =>
    send(
      res,
      f.status,
      `<ErrorResponse xmlns="${RDS_XMLNS}"><Error><Type>${f.status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
        `${el('Code', f.code)}${el('Message', f.message)}</Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      requestId,
    );

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const requestId = `rds-req-${++requestCount}`;
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      sendError(res, new RdsFault('InvalidAction', 'expected a form-urlencoded POST'), requestId);
      return;
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      sendError(res, new RdsFault('MissingAuthenticationToken', 'request is not signed', 403), requestId);
      return;
    }
    const params = Object.fromEntries(new URLSearchParams(raw));
    const action = params.Action ?? '';
    calls.push({ action, params });
    if (params.Version !== '2014-10-31') {
      sendError(res, new RdsFault('InvalidParameterValue', `unsupported Version ${params.Version}`), requestId);
      return;
    }
    const fi = faults.findIndex((f) => f.action === undefined || f.action === action);
    const fault = faults[fi];
    if (fault !== undefined) {
      if (--fault.remaining <= 0) faults.splice(fi, 1);
      sendError(res, new RdsFault(fault.code, `injected ${fault.code}`, fault.status), requestId);
      return;
    }
    const run = actions[action];
    if (run === undefined) {
      sendError(res, new RdsFault('InvalidAction', `this test server does not do ${action}`), requestId);
      return;
    }
    try {
      const result = run(params);
      send(
        res,
        200,
        `<${action}Response xmlns="${RDS_XMLNS}"><${action}Result>${result}</${action}Result>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        requestId,
      );
    } catch (err) {
      if (!(err instanceof RdsFault)) throw err;
      sendError(res, err, requestId);
    }
  };

  const { server, url } = await startBodyServer(handle, (res, err) => sendError(res, new RdsFault('InternalFailure', String(err), 500), 'rds-req-internal'));

  return {
    url,
    clusters,
    events,
    addEvent,
    calls,
    failNext(n, code, status = 400, action) {
      if (n > 0) faults.push({ remaining: n, code, status, action });
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
