import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { freePort } from '../../infra/local/processes';
import { CREDENTIAL_ACTIONS, roleSessionName } from '../../shared/domain/aws-credentials';
import { signUpAndSignIn } from '../fixtures/cognito';
import { closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';
import { activeSubscriber, meEvent, stsCallsOf, stsControl } from '../fixtures/subscribers';
import { api, localStack } from '../fixtures/stack';
import { documentClient, putEntitlement } from '../fixtures/tokens';

const doc = () => documentClient(localDynamoClient(localStack().dynamodbEndpoint));
const env = () => localStack().handlerEnv;
const credentials = (user: { accessToken: string }) =>
  api('/me/aws-credentials', { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` } });

async function grantsOf(userId: string) {
  const out = await doc().send(
    new QueryCommand({ TableName: env().TABLE_LEDGER, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ConsistentRead: true }),
  );
  return (out.Items ?? []).filter((i) => i.kind === 'aws-credentials');
}

afterAll(closeLoadedHandlers);

describe('POST /me/aws-credentials', () => {
  let active: Awaited<ReturnType<typeof activeSubscriber>>;

  beforeAll(async () => {
    active = await activeSubscriber('creds');
  });

  it('gives an active subscriber speech-to-text credentials for 900 s, scoped by a session policy, and logs the grant', async () => {
    const before = Date.now();
    const res = await credentials(active);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      accessKeyId: expect.stringMatching(/^ASIA[A-Z0-9]{16}$/),
      secretAccessKey: expect.any(String),
      sessionToken: expect.any(String),
      expiration: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      region: env().AWS_REGION,
    });
    const lifetime = Date.parse(res.body.expiration) - before;
    expect(lifetime).toBeGreaterThan(895_000);
    expect(lifetime).toBeLessThanOrEqual(901_000);

    const calls = await stsCallsOf(active.sub);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      action: 'AssumeRole',
      outcome: 'granted',
      roleArn: env().CREDENTIALS_ROLE_ARN,
      roleSessionName: roleSessionName(active.sub),
      sourceIdentity: active.sub,
      durationSeconds: 900,
      accessKeyId: res.body.accessKeyId,
    });
    // The session may do exactly the configured actions, nothing else.
    expect(calls[0]!.policy).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'SpeechToText', Effect: 'Allow', Action: [...CREDENTIAL_ACTIONS], Resource: '*' }],
    });

    const grants = await grantsOf(active.sub);
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ kind: 'aws-credentials', accessKeyId: res.body.accessKeyId, durationSeconds: 900, actions: [...CREDENTIAL_ACTIONS] });
    const logged = JSON.stringify(grants[0]);
    expect(logged).not.toContain(res.body.secretAccessKey);
    expect(logged).not.toContain(res.body.sessionToken);
  });

  it('refuses users without an active or trialing subscription (403) and never calls STS', async () => {
    const none = await signUpAndSignIn('creds-none');
    const canceled = await signUpAndSignIn('creds-canceled');
    const pastDue = await signUpAndSignIn('creds-past-due');
    const now = new Date();
    await putEntitlement(doc(), env().TABLE_ENTITLEMENTS as string, canceled.sub, now, { status: 'canceled' });
    await putEntitlement(doc(), env().TABLE_ENTITLEMENTS as string, pastDue.sub, now, { status: 'past_due', tier: 'basic' });
    for (const user of [none, canceled, pastDue]) {
      const res = await credentials(user);
      expect({ user: user.email, status: res.status, code: res.body?.error?.code }).toEqual({ user: user.email, status: 403, code: 'forbidden' });
      expect(await stsCallsOf(user.sub)).toEqual([]);
      expect(await grantsOf(user.sub)).toEqual([]);
    }
  });

  it('serves trialing users', async () => {
    const trial = await signUpAndSignIn('creds-trial');
    await putEntitlement(doc(), env().TABLE_ENTITLEMENTS as string, trial.sub, new Date(), { status: 'trialing', tier: 'pro' });
    const handler = loadHandler('sts-credentials');
    const res = await handler(meEvent(trial, '/me/aws-credentials'), noContext);
    expect(res.statusCode).toBe(200);
    expect(await stsCallsOf(trial.sub)).toHaveLength(1);
  });

  it('uses the configured duration and action list, and refuses configurations beyond the caps', async () => {
    const user = await signUpAndSignIn('creds-config');
    await putEntitlement(doc(), env().TABLE_ENTITLEMENTS as string, user.sub, new Date(), { status: 'active', tier: 'basic' });
    const handler = loadHandler('sts-credentials', { CREDENTIALS_DURATION_SECONDS: '3600', CREDENTIALS_ALLOWED_ACTIONS: 'transcribe:StartStreamTranscription' });
    expect((await handler(meEvent(user, '/me/aws-credentials'), noContext)).statusCode).toBe(200);
    const [call] = await stsCallsOf(user.sub);
    expect(call).toMatchObject({ durationSeconds: 3600 });
    expect(call!.policy.Statement).toEqual([{ Sid: 'SpeechToText', Effect: 'Allow', Action: ['transcribe:StartStreamTranscription'], Resource: '*' }]);

    expect(() => loadHandler('sts-credentials', { CREDENTIALS_DURATION_SECONDS: '3601' })).toThrow(/CREDENTIALS_DURATION_SECONDS/);
    expect(() => loadHandler('sts-credentials', { CREDENTIALS_DURATION_SECONDS: '43200' })).toThrow(/CREDENTIALS_DURATION_SECONDS/);
    expect(() => loadHandler('sts-credentials', { CREDENTIALS_ALLOWED_ACTIONS: 's3:GetObject' })).toThrow(/CREDENTIALS_ALLOWED_ACTIONS/);
  });

  it('limits grants per user per minute (429 with Retry-After), counting only granted calls', async () => {
    const user = await signUpAndSignIn('creds-rate');
    await putEntitlement(doc(), env().TABLE_ENTITLEMENTS as string, user.sub, new Date(), { status: 'active', tier: 'basic' });
    const handler = loadHandler('sts-credentials', { CREDENTIALS_RATE_LIMIT_PER_MINUTE: '3', REDIS_COMMAND_TIMEOUT_MS: '1000' });
    const results = await Promise.all(Array.from({ length: 8 }, () => handler(meEvent(user, '/me/aws-credentials'), noContext)));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    const refused = results.find((r) => r.statusCode === 429)!;
    expect(Number(refused.headers!['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers!['Retry-After'])).toBeLessThanOrEqual(60);
    expect(await stsCallsOf(user.sub)).toHaveLength(3);
  });

  it('fails closed (503, no STS call) when Redis is down, and answers 503 without credentials when STS fails', async () => {
    const user = await signUpAndSignIn('creds-outage');
    await putEntitlement(doc(), env().TABLE_ENTITLEMENTS as string, user.sub, new Date(), { status: 'active', tier: 'basic' });
    const noRedis = loadHandler('sts-credentials', { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_CONNECT_TIMEOUT_MS: '200' });
    const down = await noRedis(meEvent(user, '/me/aws-credentials'), noContext);
    expect(down.statusCode).toBe(503);
    expect(JSON.parse(down.body).error.code).toBe('dependency_unavailable');
    expect(await stsCallsOf(user.sub)).toEqual([]);

    const handler = loadHandler('sts-credentials');
    await stsControl().fault({ status: 500, code: 'InternalFailure', count: 5 });
    let failed;
    try {
      failed = await handler(meEvent(user, '/me/aws-credentials'), noContext);
    } finally {
      await stsControl().resetFaults();
    }
    expect(failed.statusCode).toBe(503);
    expect(failed.body).not.toContain('ASIA');
    expect(await grantsOf(user.sub)).toEqual([]);
  });
});
