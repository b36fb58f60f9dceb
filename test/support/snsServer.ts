/**
 * A loopback SNS speaking the real wire protocol (query protocol: form-encoded `Action=Publish|PublishBatch`,
 * XML replies), for driving the real SNSClient in tests via `endpoint` or `AWS_ENDPOINT_URL_SNS`. It checks what
 * real SNS checks (signature present, Subject rules, 256 KiB per message and per batch, ≤10 entries, FIFO ids),
 * records every accepted message, drops FIFO duplicates (same MessageDeduplicationId), and injects faults:
 * whole-request errors (`Throttling` 400, `InternalError` 500), per-entry batch failures, hangs (timeouts), and
 * a refused port for a while (`down()` / `up()`).
 */
import { randomUUID } from 'node:crypto';
import { switchable } from './loopback.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface SnsMessage {
  action: 'Publish' | 'PublishBatch';
  topicArn: string;
  message: string;
  subject: string | undefined;
  attributes: Record<string, { type: string; value: string }>;
  groupId: string | undefined;
  dedupId: string | undefined;
}

export interface SnsServer {
  readonly url: string;
  /** Accepted messages, in order (FIFO duplicates not included). */
  readonly messages: SnsMessage[];
  /** Requests received, by action (faulted ones included). */
  readonly calls: { Publish: number; PublishBatch: number };
  /** FIFO messages dropped as duplicates. */
  readonly duplicatesDropped: number;
  /** The next `n` requests fail with `code` and HTTP `status`. */
  failNext(n: number, code: string, status: number): void;
  /** In the next `n` PublishBatch requests, every other entry (the 2nd, 4th...) fails with `code`. */
  failEntries(n: number, code: string, senderFault: boolean): void;
  /** The next `n` requests get no answer (the client times out). */
  hangNext(n: number): void;
  /** Every reply waits `ms` first (a slow service; 0 to stop). */
  setDelay(ms: number): void;
  /** Stop listening (connections are refused) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const MAX_BYTES = 262_144;

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

class SenderError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startSnsServer(): Promise<SnsServer> {
  const messages: SnsMessage[] = [];
  const calls = { Publish: 0, PublishBatch: 0 };
  const faults: { remaining: number; code: string; status: number }[] = [];
  const entryFaults: { remaining: number; code: string; senderFault: boolean }[] = [];
  let hang = 0;
  let delayMs = 0;
  let duplicatesDropped = 0;
  const seenDedup = new Set<string>();
  const hung: ServerResponse[] = [];

  const send = (res: ServerResponse, status: number, xml: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml), 'x-amzn-requestid': randomUUID() });
    res.end(xml);
  };
  const error = (res: ServerResponse, status: number, code: string, message: string): void =>
    send(res, status, `<ErrorResponse xmlns="${NS}"><Error><Type>${status < 500 ? 'Sender' : 'Receiver'}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);

  /** `Prefix.entry.N.Name` / `Prefix.entry.N.Value.DataType` / `.StringValue` -> attributes. */
  const attributesOf = (p: URLSearchParams, prefix: string): SnsMessage['attributes'] => {
    const out: SnsMessage['attributes'] = {};
    for (let i = 1; p.has(`${prefix}.entry.${i}.Name`); i++) {
      const name = p.get(`${prefix}.entry.${i}.Name`)!;
      const type = p.get(`${prefix}.entry.${i}.Value.DataType`) ?? '';
      const value = p.get(`${prefix}.entry.${i}.Value.StringValue`) ?? '';
      if (!['String', 'String.Array', 'Number', 'Binary'].includes(type)) throw new SenderError('ParameterValueInvalid', `bad DataType ${type}`);
      if (value === '') throw new SenderError('ParameterValueInvalid', `attribute ${name} has an empty value`);
      if (type === 'String.Array') JSON.parse(value);
      out[name] = { type, value };
    }
    return out;
  };

  const message = (p: URLSearchParams, prefix: string, action: SnsMessage['action'], topicArn: string): SnsMessage => {
    const text = p.get(`${prefix}Message`);
    if (text === null || text === '') throw new SenderError('InvalidParameter', 'Message is required');
    const subject = p.get(`${prefix}Subject`) ?? undefined;
    if (subject !== undefined) {
      if (subject.length >= 100 || !/^[\x20-\x7e]+$/.test(subject) || !/^[A-Za-z0-9\p{P}]/u.test(subject)) {
        throw new SenderError('InvalidParameter', 'Invalid parameter: Subject');
      }
    }
    const attributes = attributesOf(p, `${prefix}MessageAttributes`);
    let size = Buffer.byteLength(text);
    for (const [k, v] of Object.entries(attributes)) size += Buffer.byteLength(k) + Buffer.byteLength(v.type) + Buffer.byteLength(v.value);
    if (size > MAX_BYTES) throw new SenderError('InvalidParameter', 'Invalid parameter: Message too long');
    const fifo = topicArn.endsWith('.fifo');
    const groupId = p.get(`${prefix}MessageGroupId`) ?? undefined;
    const dedupId = p.get(`${prefix}MessageDeduplicationId`) ?? undefined;
    if (fifo && (groupId === undefined || dedupId === undefined)) throw new SenderError('InvalidParameter', 'FIFO topics need MessageGroupId and MessageDeduplicationId (no content-based deduplication here)');
    if (!fifo && groupId !== undefined) throw new SenderError('InvalidParameter', 'MessageGroupId is only for FIFO topics');
    return { action, topicArn, message: text, subject, attributes, groupId, dedupId };
  };

  const accept = (m: SnsMessage): void => {
    if (m.dedupId !== undefined) {
      if (seenDedup.has(m.dedupId)) {
        duplicatesDropped++;
        return;
      }
      seenDedup.add(m.dedupId);
    }
    messages.push(m);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      error(res, 400, 'InvalidAction', 'expected a form-encoded POST');
      return;
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      error(res, 403, 'MissingAuthenticationToken', 'request is not signed');
      return;
    }
    const p = new URLSearchParams(body);
    const action = p.get('Action');
    if (action !== 'Publish' && action !== 'PublishBatch') {
      error(res, 400, 'InvalidAction', `this test server does Publish and PublishBatch, not ${action}`);
      return;
    }
    calls[action]++;
    if (hang > 0) {
      hang--;
      hung.push(res);
      return;
    }
    const fault = faults[0];
    if (fault) {
      if (--fault.remaining <= 0) faults.shift();
      error(res, fault.status, fault.code, `injected ${fault.code}`);
      return;
    }
    const topicArn = p.get('TopicArn') ?? '';
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/.test(topicArn)) {
      error(res, 400, 'InvalidParameter', 'Invalid parameter: TopicArn');
      return;
    }
    try {
      if (action === 'Publish') {
        const m = message(p, '', 'Publish', topicArn);
        accept(m);
        send(res, 200, `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`);
        return;
      }
      const entries: { id: string; m: SnsMessage }[] = [];
      for (let i = 1; p.has(`PublishBatchRequestEntries.member.${i}.Id`); i++) {
        const prefix = `PublishBatchRequestEntries.member.${i}.`;
        entries.push({ id: p.get(`${prefix}Id`)!, m: message(p, prefix, 'PublishBatch', topicArn) });
      }
      if (entries.length === 0) throw new SenderError('EmptyBatchRequest', 'The batch request does not contain any entries');
      if (entries.length > 10) throw new SenderError('TooManyEntriesInBatchRequest', 'The batch request contains more entries than permissible');
      if (new Set(entries.map((e) => e.id)).size !== entries.length) throw new SenderError('BatchEntryIdsNotDistinct', 'Two or more batch entries in the request have the same Id');
      const total = entries.reduce((s, e) => s + Buffer.byteLength(e.m.message), 0);
      if (total > MAX_BYTES) throw new SenderError('BatchRequestTooLong', 'The length of all the messages put together is more than the limit');
      const ef = entryFaults[0];
      if (ef && --ef.remaining <= 0) entryFaults.shift();
      let ok = '';
      let failed = '';
      entries.forEach((e, i) => {
        if (ef && i % 2 === 1) {
          failed += `<member><Id>${xmlEscape(e.id)}</Id><Code>${ef.code}</Code><Message>injected ${ef.code}</Message><SenderFault>${ef.senderFault}</SenderFault></member>`;
          return;
        }
        accept(e.m);
        ok += `<member><Id>${xmlEscape(e.id)}</Id><MessageId>${randomUUID()}</MessageId></member>`;
      });
      send(res, 200, `<PublishBatchResponse xmlns="${NS}"><PublishBatchResult><Successful>${ok}</Successful><Failed>${failed}</Failed></PublishBatchResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishBatchResponse>`);
    } catch (err) {
      if (!(err instanceof SenderError || err instanceof SyntaxError)) throw err;
      error(res, 400, err instanceof SenderError ? err.code : 'InvalidParameter', err.message);
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const run = () => {
        try {
          handle(req, res, Buffer.concat(chunks).toString('utf8'));
        } catch (err) {
          error(res, 500, 'InternalError', String(err));
        }
      };
      if (delayMs > 0) setTimeout(run, delayMs);
      else run();
    });
  });
  const { port, up, down } = await switchable(server, hung);

  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    calls,
    get duplicatesDropped() {
      return duplicatesDropped;
    },
    failNext(n, code, status) {
      if (n > 0) faults.push({ remaining: n, code, status });
    },
    failEntries(n, code, senderFault) {
      if (n > 0) entryFaults.push({ remaining: n, code, senderFault });
    },
    hangNext(n) {
      hang += n;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    down,
    up,
    close: down,
  };
}
