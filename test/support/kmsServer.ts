/**
 * A loopback KMS speaking the real wire protocol (JSON 1.1, `X-Amz-Target: TrentService.Decrypt`), for driving
 * the real KMSClient in tests: via `endpoint` config or `AWS_ENDPOINT_URL_KMS`. It decrypts with a
 * LocalKeyProvider (the same wrapped-key format and encryption-context check as the key file), counts calls,
 * records what it was sent, and can inject faults.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startBodyServer } from './loopback.js';
import { PoisonRecordError } from '../../src/errors.js';
import type { LocalKeyProvider } from '../../src/keys/LocalKeyProvider.js';

export interface KmsDecryptRequest {
  encryptionContext: Record<string, string> | undefined;
  keyId: string | undefined;
  ciphertextLength: number;
}

export interface KmsServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Decrypt requests received (faulted ones included). */
  readonly calls: number;
  /** What each Decrypt request carried, in order. */
  readonly requests: readonly KmsDecryptRequest[];
  /** The next `n` Decrypt calls fail with `{"__type": type}` and HTTP `status` (default 400). */
  failNext(n: number, type: string, status?: number): void;
  /**
   * From now on EVERY Decrypt call fails with `{"__type": type}` and HTTP `status` (default 400), until called with
   * `undefined`: a key whose policy or state changes mid-stream (AccessDeniedException, DisabledException).
   */
  failAll(type: string | undefined, status?: number): void;
  close(): Promise<void>;
}

export interface KmsServerOptions {
  keys: LocalKeyProvider;
  /** The KeyId returned on success. */
  keyArn?: string;
}

interface Fault {
  remaining: number;
  type: string;
  status: number;
}

export async function startKmsServer(opts: KmsServerOptions): Promise<KmsServer> {
  const keyArn = opts.keyArn ?? 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000';
  let calls = 0;
  const requests: KmsDecryptRequest[] = [];
  const faults: Fault[] = [];
  let failAll: { type: string; status: number } | undefined;

  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': `req-${calls}`,
    });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, type: string, message: string): void =>
    reply(res, status, { __type: type, message });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || target === undefined) {
      error(res, 400, 'UnknownOperationException', 'expected a POST with X-Amz-Target');
      return;
    }
    if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) {
      error(res, 400, 'SerializationException', 'expected content-type application/x-amz-json-1.1');
      return;
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      error(res, 400, 'MissingAuthenticationTokenException', 'request is not signed');
      return;
    }
    if (target !== 'TrentService.Decrypt') {
      error(res, 400, 'UnknownOperationException', `this test server only does Decrypt, not ${target}`);
      return;
    }
    calls++;
    let body: { CiphertextBlob?: unknown; EncryptionContext?: Record<string, string>; KeyId?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      error(res, 400, 'SerializationException', 'body is not JSON');
      return;
    }
    const blob = typeof body.CiphertextBlob === 'string' ? Buffer.from(body.CiphertextBlob, 'base64') : undefined;
    requests.push({
      encryptionContext: body.EncryptionContext,
      keyId: typeof body.KeyId === 'string' ? body.KeyId : undefined,
      ciphertextLength: blob?.length ?? 0,
    });

    if (failAll !== undefined) {
      error(res, failAll.status, failAll.type, `injected ${failAll.type}`);
      return;
    }
    const fault = faults[0];
    if (fault !== undefined) {
      if (--fault.remaining <= 0) faults.shift();
      error(res, fault.status, fault.type, `injected ${fault.type}`);
      return;
    }
    if (blob === undefined || blob.length === 0) {
      error(res, 400, 'ValidationException', 'CiphertextBlob is required');
      return;
    }
    let plaintext: Uint8Array;
    try {
      plaintext = opts.keys.unwrapDataKey(blob, body.EncryptionContext ?? {});
    } catch (err) {
      if (!(err instanceof PoisonRecordError)) throw err;
      // Real KMS says nothing more about a wrong context or foreign ciphertext.
      error(res, 400, 'InvalidCiphertextException', '');
      return;
    }
    const b64 = Buffer.from(plaintext).toString('base64');
    plaintext.fill(0);
    reply(res, 200, { KeyId: keyArn, Plaintext: b64, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
  };

  const { server, url } = await startBodyServer(handle, (res, err) => error(res, 500, 'KMSInternalException', String(err)));

  return {
    url,
    get calls() {
      return calls;
    },
    requests,
    failNext(n: number, type: string, status = 400) {
      if (n > 0) faults.push({ remaining: n, type, status });
    },
    failAll(type: string | undefined, status = 400) {
      failAll = type === undefined ? undefined : { type, status };
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
