import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  InternalServerError,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { awsFailureKind, classifyAwsError, classifyErrorsOf } from '../../shared/adapters/aws-errors';
import { awsClientSettings, createDynamoClients } from '../../shared/adapters/clients';
import { awsSection, loadConfig } from '../../shared/config';
import { DependencyTimedOut, DependencyUnavailable } from '../../shared/ports/errors';

const meta = (httpStatusCode?: number) => ({ $metadata: { httpStatusCode } });
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('awsFailureKind: the one classifier of AWS SDK errors', () => {
  it.each([
    ['ProvisionedThroughputExceededException', new ProvisionedThroughputExceededException({ message: 'x', ...meta(400) }), 'throttled'],
    ['ThrottlingException', new ThrottlingException({ message: 'x', ...meta(400) }), 'throttled'],
    ['RequestLimitExceeded', new RequestLimitExceeded({ message: 'x', ...meta(400) }), 'throttled'],
    ['an HTTP 429', Object.assign(new Error('x'), { name: 'Whatever', ...meta(429) }), 'throttled'],
    ['$retryable with throttling', Object.assign(new Error('x'), { name: 'Custom', $retryable: { throttling: true }, ...meta(400) }), 'throttled'],
    [
      'a transaction cancelled only for capacity',
      new TransactionCanceledException({ message: 'x', ...meta(400), CancellationReasons: [{ Code: 'None' }, { Code: 'ThrottlingError' }] }),
      'throttled',
    ],
    ['InternalServerError (500)', new InternalServerError({ message: 'x', ...meta(500) }), 'failing'],
    ['an HTTP 503', Object.assign(new Error('x'), { name: 'ServiceUnavailable', $fault: 'server', ...meta(503) }), 'failing'],
    ['$retryable without throttling', Object.assign(new Error('x'), { name: 'Custom', $retryable: {}, ...meta(400) }), 'failing'],
    ['TimeoutError (request timeout)', Object.assign(new Error('x'), { name: 'TimeoutError', code: 'ETIMEDOUT' }), 'timeout'],
    ['TimeoutError (connect timeout)', Object.assign(new Error('x'), { name: 'TimeoutError' }), 'timeout'],
    ['ECONNREFUSED', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'unreachable'],
    ['ECONNRESET', Object.assign(new Error('x'), { code: 'ECONNRESET' }), 'unreachable'],
    ['ENOTFOUND', Object.assign(new Error('x'), { code: 'ENOTFOUND' }), 'unreachable'],
    ['no HTTP answer at all', Object.assign(new Error('x'), { name: 'Error', ...meta(undefined) }), 'unreachable'],
  ])('%s is a dependency failure (%#)', (_what, err, kind) => {
    expect(awsFailureKind(err)).toBe(kind);
  });

  it.each([
    ['ConditionalCheckFailedException', new ConditionalCheckFailedException({ message: 'x', ...meta(400) })],
    ['a transaction cancelled by a condition', new TransactionCanceledException({ message: 'x', ...meta(400), CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'ThrottlingError' }] })],
    ['a transaction conflict (the store retries it)', new TransactionCanceledException({ message: 'x', ...meta(400), CancellationReasons: [{ Code: 'TransactionConflict' }] })],
    ['ValidationException', Object.assign(new Error('x'), { name: 'ValidationException', $fault: 'client', ...meta(400) })],
    ['AccessDenied', Object.assign(new Error('x'), { name: 'AccessDenied', $fault: 'client', ...meta(403) })],
    ['an abort by the caller', Object.assign(new Error('x'), { name: 'AbortError' })],
    ['a plain bug', new TypeError('Cannot read properties of undefined')],
    ['not an object', 'boom'],
  ])('%s is not: it passes through for the adapter to interpret', (_what, err) => {
    expect(awsFailureKind(err)).toBeUndefined();
  });

  it('never looks at the message: a throttling text on a validation error stays a validation error', () => {
    const err = Object.assign(new Error('Throttling: rate exceeded, service unavailable, timed out'), { name: 'ValidationException', ...meta(400) });
    expect(classifyAwsError('dynamodb', err)).toBeUndefined();
  });

  it('names the dependency, keeps the cause, and uses the timeout flavour for timeouts', () => {
    const cause = Object.assign(new Error('x'), { name: 'TimeoutError' });
    const err = classifyAwsError('sts', cause);
    expect(err).toBeInstanceOf(DependencyTimedOut);
    expect(err).toMatchObject({ dependency: 'sts', failure: 'timeout', cause });
    expect(classifyAwsError('dynamodb', new ThrottlingException({ message: 'x', ...meta(400) }))).toMatchObject({ dependency: 'dynamodb', failure: 'throttled' });
  });
});

/** A request handler that answers every call with one DynamoDB JSON error, counting the calls. */
function answering(status: number, type: string) {
  const calls = { count: 0 };
  const handler = {
    handle: async () => {
      calls.count += 1;
      const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'refused' });
      return { response: { statusCode: status, reason: '', headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Readable.from([Buffer.from(body)]) } };
    },
  };
  return { handler, calls };
}

describe('classifyErrorsOf: the classifier on a client, after its retries', () => {
  it('turns a throttled DynamoDB call into DependencyUnavailable once the bounded retries are spent, for the document client too', async () => {
    const { handler, calls } = answering(400, 'ProvisionedThroughputExceededException');
    const raw = classifyErrorsOf(new DynamoDBClient({ region: 'us-east-1', credentials, requestHandler: handler, maxAttempts: 2 }), 'dynamodb');
    const doc = DynamoDBDocumentClient.from(raw);
    await expect(raw.send(new GetItemCommand({ TableName: 't', Key: { id: { S: '1' } } }))).rejects.toMatchObject({ name: 'DependencyUnavailable', dependency: 'dynamodb', failure: 'throttled' });
    expect(calls.count).toBe(2);
    const err = await doc.send(new GetCommand({ TableName: 't', Key: { id: '1' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailable);
    expect((err as DependencyUnavailable).cause).toBeInstanceOf(ProvisionedThroughputExceededException);
  }, 10_000);

  it('leaves answers about the request alone (a failed condition is the adapter\'s business)', async () => {
    const { handler } = answering(400, 'ConditionalCheckFailedException');
    const raw = classifyErrorsOf(new DynamoDBClient({ region: 'us-east-1', credentials, requestHandler: handler, maxAttempts: 1 }), 'dynamodb');
    await expect(raw.send(new GetItemCommand({ TableName: 't', Key: { id: { S: '1' } } }))).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });
});

describe('client timeouts: a dependency that accepts the connection and never answers', () => {
  let server: Server;
  const held = new Set<Socket>();
  let endpoint: string;
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    // createDynamoClients resolves credentials the way a Lambda does: from the environment.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    // Like a SIGSTOPped process: the kernel completes the TCP handshake, nothing ever answers.
    server = createServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    process.env = savedEnv;
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const config = (overrides: Record<string, string> = {}) =>
    loadConfig({ aws: awsSection }, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REQUEST_TIMEOUT_MS: '300', AWS_MAX_ATTEMPTS: '2', ...overrides }).aws;

  it('has defaults well below the functions\' 5 s minimum, with requestTimeout that throws', () => {
    const defaults = config({ AWS_REQUEST_TIMEOUT_MS: undefined as unknown as string, AWS_MAX_ATTEMPTS: undefined as unknown as string });
    const settings = awsClientSettings(defaults);
    expect(settings.requestHandler).toEqual({ connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true });
    expect(settings.maxAttempts).toBe(2);
    // requestTimeout runs from the start of each attempt (connecting included): worst case attempts x requestTimeout
    // plus the SDK's back-off, so a hung dependency is a 503 before the shortest (5 s) function times out.
    expect(settings.maxAttempts * settings.requestHandler.requestTimeout).toBeLessThanOrEqual(4000);
  });

  it('refuses timeouts that could hold a function until its own timeout, naming the variable', () => {
    expect(() => config({ AWS_REQUEST_TIMEOUT_MS: '30000' })).toThrow(/AWS_REQUEST_TIMEOUT_MS/);
    expect(() => config({ AWS_MAX_ATTEMPTS: '10' })).toThrow(/AWS_MAX_ATTEMPTS/);
    expect(() => config({ AWS_CONNECT_TIMEOUT_MS: '0' })).toThrow(/AWS_CONNECT_TIMEOUT_MS/);
  });

  it('DynamoDB: DependencyTimedOut after maxAttempts x requestTimeout, not the function timeout', async () => {
    const { raw, doc } = createDynamoClients({ ...config(), DYNAMODB_ENDPOINT: endpoint });
    try {
      const started = Date.now();
      const err = await doc.send(new GetCommand({ TableName: 't', Key: { id: '1' } })).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(DependencyTimedOut);
      expect(err).toMatchObject({ dependency: 'dynamodb', failure: 'timeout' });
      expect(elapsed).toBeGreaterThanOrEqual(2 * 300 - 50);
      expect(elapsed).toBeLessThan(2500);
    } finally {
      raw.destroy();
    }
  });

  it('STS: DependencyTimedOut too (the same settings on every AWS client)', async () => {
    const sts = classifyErrorsOf(new STSClient({ ...awsClientSettings(config({ AWS_MAX_ATTEMPTS: '1' })), endpoint, credentials }), 'sts');
    try {
      const started = Date.now();
      await expect(sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 'test' }))).rejects.toMatchObject({
        name: 'DependencyTimedOut',
        dependency: 'sts',
      });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      sts.destroy();
    }
  });
});
