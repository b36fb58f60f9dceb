/**
 * DynamoDB for tests: dynalite (a DynamoDB implementation on an in-memory store) in this process, reached by the real
 * @aws-sdk/client-dynamodb through the standard SDK configuration (AWS_ENDPOINT_URL_DYNAMODB, `dynamoEnv`), as the
 * CLI and the Lambda reach DynamoDB. Loopback only. dynalite has no UpdateTimeToLive and no transactions.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { FAKE_CREDENTIALS, REGION } from './kinesis.js';

const require = createRequire(import.meta.url);

interface DynaliteServer {
  listen(port: number, host: string, cb: () => void): void;
  address(): AddressInfo;
  close(cb: (err?: Error) => void): void;
}
type DynaliteFactory = (opts: Record<string, unknown>) => DynaliteServer;

export interface Dynalite {
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

/** dynalite in this process: tables are ACTIVE at once. */
export async function startDynalite(): Promise<Dynalite> {
  const dynalite = require('dynalite') as DynaliteFactory;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))) };
}

/** The environment that points the SDK's DynamoDB clients at `url` (fake credentials, the tests' region). */
export function dynamoEnv(url: string): Record<string, string | undefined> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: url,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: REGION,
    AWS_PROFILE: undefined,
  };
}
