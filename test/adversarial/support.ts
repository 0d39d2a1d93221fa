import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { API_KEYS_BY_USER_INDEX } from '../../shared/adapters/dynamodb/tables';
import { localStack } from '../fixtures/stack';

/* ---------------------------------- PRNG ---------------------------------- */

/** mulberry32: small, fast, seeded; the same seed replays the same requests. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
export type Rng = ReturnType<typeof prng>;

/* ------------------------------ the contract ------------------------------ */

/** What must never reach a caller: stack frames, exception names, paths, physical names, ARNs. */
const LEAKS: Array<[string, RegExp]> = [
  ['stack frame', /\bat [^\s()]+ \(|\n\s+at |:\d+:\d+\)/],
  ['exception text', /\b[A-Za-z]*Error: |Exception\b/],
  ['file path', /\/(?:work|home|tmp|var|usr)\/|\w\.(?:ts|js):\d+|[A-Za-z]:\\/],
  ['node_modules', /node_modules/],
  ['table name', /entitlements-local-|\bTABLE_[A-Z]+/],
  ['ARN', /\barn:aws/],
];

/** Extra, safe fields an error body may carry (402 remaining, 429 usage). */
const ERROR_DETAILS = new Set(['remaining', 'usage']);

/**
 * Checks one answer against the contract; returns what is wrong, or undefined.
 * `dependencyDown` allows 503 (a fault test), never any other 5xx.
 */
export function contractViolation(status: number, text: string, options: { dependencyDown?: boolean; allow500?: boolean } = {}): string | undefined {
  if (status >= 500 && !(status === 503 && options.dependencyDown) && !(status === 500 && options.allow500)) return `status ${status}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${JSON.stringify(text.slice(0, 200))}`;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not a JSON object';
  for (const [what, pattern] of LEAKS) {
    const m = pattern.exec(text);
    if (m) return `body leaks a ${what} (${JSON.stringify(m[0])}): ${text.slice(0, 300)}`;
  }
  if (status >= 400) {
    const keys = Object.keys(body);
    if (keys.length !== 1 || keys[0] !== 'error') return `error body keys ${JSON.stringify(keys)}`;
    const error = (body as { error: unknown }).error as Record<string, unknown> | null;
    if (!error || typeof error !== 'object') return 'error is not an object';
    if (typeof error.code !== 'string' || error.code.length === 0) return 'error.code is not a string';
    if (typeof error.message !== 'string' || error.message.length === 0) return 'error.message is not a string';
    const extra = Object.keys(error).filter((k) => k !== 'code' && k !== 'message');
    if (extra.some((k) => !ERROR_DETAILS.has(k))) return `error has extra fields ${JSON.stringify(extra)}`;
    if (status >= 500 && !/^(internal_error|dependency_unavailable)$/.test(error.code)) return `5xx with code ${error.code}`;
  } else if ('error' in body) {
    return `success status ${status} with an error body`;
  }
  return undefined;
}

/* -------------------------------- DynamoDB -------------------------------- */

export const env = () => localStack().handlerEnv;
let docClient: DynamoDBDocumentClient | undefined;
export const doc = () => (docClient ??= DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint)));
export function destroyDoc(): void {
  docClient?.destroy();
  docClient = undefined;
}

export async function getRow(table: 'TABLE_USERS' | 'TABLE_ENTITLEMENTS', userId: string) {
  return (await doc().send(new GetCommand({ TableName: env()[table], Key: { userId }, ConsistentRead: true }))).Item;
}

async function queryAll(input: ConstructorParameters<typeof QueryCommand>[0]) {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc().send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Every row of one user in every table, in a stable order: equal snapshots = nothing written. */
export async function snapshotUser(userId: string): Promise<string> {
  const byUser = { KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } };
  const [users, entitlements, ledger, apiKeys] = await Promise.all([
    getRow('TABLE_USERS', userId),
    getRow('TABLE_ENTITLEMENTS', userId),
    queryAll({ TableName: env().TABLE_LEDGER, ConsistentRead: true, ...byUser }),
    queryAll({ TableName: env().TABLE_API_KEYS, IndexName: API_KEYS_BY_USER_INDEX, ...byUser }),
  ]);
  // Idempotency records have no per-user index: a filtered scan (tests only; the table is small).
  const idempotency: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc().send(
      new ScanCommand({ TableName: env().TABLE_IDEMPOTENCY, FilterExpression: 'userId = :u OR contains(#k, :u)', ExpressionAttributeNames: { '#k': 'key' }, ExpressionAttributeValues: { ':u': userId }, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    idempotency.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  const sort = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort();
  return JSON.stringify({ users: users ?? null, entitlements: entitlements ?? null, ledger: sort(ledger), apiKeys: sort(apiKeys), idempotency: sort(idempotency) });
}

/* ------------------------------ broken servers ----------------------------- */

/** A port with nothing listening. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * A DynamoDB endpoint in front of DynamoDB Local that answers the operations
 * matching `throttle` (by X-Amz-Target, e.g. /TransactWriteItems|UpdateItem/)
 * the way DynamoDB does when throttled: HTTP 400 with a
 * ProvisionedThroughputExceededException body. Everything else is forwarded.
 */
export async function throttlingDynamo(throttle: RegExp): Promise<{ url: string; throttled: string[]; forwarded: string[]; setThrottle: (r: RegExp) => void; close: () => Promise<void> }> {
  const upstream = localStack().dynamodbEndpoint;
  const throttled: string[] = [];
  const forwarded: string[] = [];
  let pattern = throttle;
  const server: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      if (pattern.test(target)) {
        throttled.push(target);
        const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'The level of configured provisioned throughput for the table was exceeded.' });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'THROTTLED', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      forwarded.push(target);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !/^(host|connection|content-length)$/i.test(k)) headers[k] = v;
      fetch(`${upstream}${req.url ?? '/'}`, { method: req.method, headers, body: Buffer.concat(chunks) })
        .then(async (up) => {
          const body = Buffer.from(await up.arrayBuffer());
          const out: Record<string, string> = {};
          up.headers.forEach((v, k) => {
            if (!/^(content-length|transfer-encoding|connection|content-encoding)$/i.test(k)) out[k] = v;
          });
          res.writeHead(up.status, { ...out, 'content-length': body.length });
          res.end(body);
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    throttled,
    forwarded,
    setThrottle: (r) => (pattern = r),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/* ---------------------------------- JWTs ---------------------------------- */

/**
 * Signs a JWT with cognito-local's own key (shipped in its package), so the
 * token is correct in every way the test does not change (e.g. an exp in the past).
 */
export function signWithCognitoLocalKey(claims: Record<string, unknown>): string {
  const key = JSON.parse(readFileSync(require.resolve('cognito-local/lib/keys/cognitoLocal.private.json'), 'utf8')) as { pem: string };
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'CognitoLocal' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(key.pem).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Raw fetch to the gateway, returning the text as sent (the fuzzer checks it is JSON). */
export async function rawApi(path: string, init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${localStack().gatewayUrl}${path}`, init);
  return { status: res.status, text: await res.text(), headers: res.headers };
}
