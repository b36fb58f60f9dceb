/**
 * A loopback AWS Secrets Manager speaking the real wire protocol (JSON 1.1, `X-Amz-Target:
 * secretsmanager.GetSecretValue`, signed requests), for driving the real SDK client through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER. It holds the secrets it is given, by name and by ARN; anything else is
 * ResourceNotFoundException, as the service says; `deny` makes every call AccessDeniedException.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startBodyServer } from './loopback.js';

export interface SecretsServer {
  url: string;
  /** The SecretIds asked for, in order. */
  readonly requests: string[];
  /** Every call refused with AccessDeniedException from now on (true), or answered again (false). */
  deny(on: boolean): void;
  close(): Promise<void>;
}

const ACCOUNT = '111122223333';

/** The ARN the server gives a secret of `name` (with the six random characters Secrets Manager appends). */
export function secretArn(name: string): string {
  return `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${name}-AbCdEf`;
}

export async function startSecretsServer(secrets: Record<string, string>): Promise<SecretsServer> {
  const requests: string[] = [];
  let denied = false;
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': `req-${requests.length}` });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, type: string, message: string): void => reply(res, status, { __type: type, message });
  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) {
      error(res, 400, 'SerializationException', 'expected a POST of application/x-amz-json-1.1');
      return;
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      error(res, 400, 'MissingAuthenticationTokenException', 'request is not signed');
      return;
    }
    if (target !== 'secretsmanager.GetSecretValue') {
      error(res, 400, 'UnknownOperationException', `this test server only does GetSecretValue, not ${String(target)}`);
      return;
    }
    const id = String((JSON.parse(raw) as { SecretId?: unknown }).SecretId ?? '');
    requests.push(id);
    if (denied) {
      error(res, 400, 'AccessDeniedException', `User is not authorized to perform: secretsmanager:GetSecretValue on resource: ${id}`);
      return;
    }
    const name = Object.keys(secrets).find((n) => n === id || secretArn(n) === id);
    if (name === undefined) {
      error(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return;
    }
    reply(res, 200, { ARN: secretArn(name), Name: name, SecretString: secrets[name], VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 1_764_000_000 });
  };
  const { server, url } = await startBodyServer(handle, (res, err) => error(res, 500, 'InternalServiceError', String(err)));
  return {
    url,
    requests,
    deny: (on) => {
      denied = on;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
