import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { LOCAL_CREDENTIALS_ROLE_ARN, startStsEmulator, type StsEmulator } from '../../infra/local/sts/emulator';

/** The real SDK against the emulator, as the sts-credentials handler uses it. */
let emulator: StsEmulator;
let sts: STSClient;

beforeAll(async () => {
  emulator = await startStsEmulator({ port: 0 });
  sts = new STSClient({ region: 'us-east-1', endpoint: emulator.url, maxAttempts: 1, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => {
  sts.destroy();
  await emulator.stop();
});
beforeEach(async () => {
  await emulator.resetCalls();
  await emulator.resetFaults();
});

const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['transcribe:StartStreamTranscription'], Resource: '*' }] };
const assume = (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]>) =>
  sts.send(new AssumeRoleCommand({ RoleArn: LOCAL_CREDENTIALS_ROLE_ARN, RoleSessionName: 'u-user-1', ...input }));
const refusal = async (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]>) => {
  const err = (await assume(input).then(
    () => undefined,
    (e: unknown) => e,
  )) as { name: string; message: string; $metadata: { httpStatusCode: number } } | undefined;
  if (!err) throw new Error('expected a refusal');
  return { name: err.name, status: err.$metadata.httpStatusCode, message: err.message };
};

describe('STS emulator (AssumeRole, query protocol)', () => {
  it('answers the XML the SDK parses: ASIA credentials, expiry, assumed role user, source identity, packed size', async () => {
    const before = Date.now();
    const out = await assume({ SourceIdentity: 'user-1', DurationSeconds: 1200, Policy: JSON.stringify(policy) });
    expect(out.Credentials).toEqual({
      AccessKeyId: expect.stringMatching(/^ASIA[A-Z0-9]{16}$/),
      SecretAccessKey: expect.any(String),
      SessionToken: expect.any(String),
      Expiration: expect.any(Date),
    });
    expect(out.Credentials!.Expiration!.getTime() - before).toBeGreaterThan(1195_000);
    expect(out.Credentials!.Expiration!.getTime() - before).toBeLessThanOrEqual(1201_000);
    expect(out.AssumedRoleUser).toEqual({
      Arn: 'arn:aws:sts::123456789012:assumed-role/entitlements-local-subscriber-credentials/u-user-1',
      AssumedRoleId: expect.stringMatching(/^AROA[A-Z0-9]+:u-user-1$/),
    });
    expect(out.SourceIdentity).toBe('user-1');
    expect(out.PackedPolicySize).toBeGreaterThan(0);
    expect((await emulator.calls()).calls).toEqual([
      expect.objectContaining({
        action: 'AssumeRole',
        outcome: 'granted',
        roleArn: LOCAL_CREDENTIALS_ROLE_ARN,
        roleSessionName: 'u-user-1',
        sourceIdentity: 'user-1',
        durationSeconds: 1200,
        policy,
        accessKeyId: out.Credentials!.AccessKeyId,
      }),
    ]);
  });

  it('validates like STS, with its error codes, and records the refusals', async () => {
    expect(await refusal({ RoleSessionName: 'a' })).toMatchObject({ name: 'ValidationError', status: 400, message: expect.stringContaining("at 'roleSessionName'") });
    expect(await refusal({ RoleSessionName: 'has space' })).toMatchObject({ name: 'ValidationError', status: 400 });
    expect(await refusal({ DurationSeconds: 899 })).toMatchObject({ name: 'ValidationError', message: expect.stringContaining('between 900 and 43200') });
    expect(await refusal({ DurationSeconds: 7200 })).toMatchObject({ name: 'ValidationError', message: expect.stringContaining('MaxSessionDuration') });
    expect(await refusal({ SourceIdentity: 'aws:me' })).toMatchObject({ name: 'ValidationError' });
    expect(await refusal({ SourceIdentity: 'x' })).toMatchObject({ name: 'ValidationError', message: expect.stringContaining("at 'sourceIdentity'") });
    // The SDK maps STS's query error codes to its modelled exceptions: proof the codes are STS's own.
    expect(await refusal({ Policy: '{not json' })).toMatchObject({ name: 'MalformedPolicyDocumentException', status: 400 });
    const huge = { ...policy, Statement: [{ ...policy.Statement[0], Action: Array.from({ length: 120 }, (_, i) => `transcribe:Action${i}`) }] };
    expect(await refusal({ Policy: JSON.stringify(huge) })).toMatchObject({ name: 'PackedPolicyTooLargeException', status: 400 });
    expect(await refusal({ RoleArn: 'arn:aws:iam::123456789012:role/someone-else' })).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect((await emulator.calls()).calls.map((c) => [c.outcome, c.errorCode])).toEqual([
      ['error', 'ValidationError'],
      ['error', 'ValidationError'],
      ['error', 'ValidationError'],
      ['error', 'ValidationError'],
      ['error', 'ValidationError'],
      ['error', 'ValidationError'],
      ['error', 'MalformedPolicyDocument'],
      ['error', 'PackedPolicyTooLarge'],
      ['error', 'AccessDenied'],
    ]);
  });

  it('refuses other actions and unsigned requests', async () => {
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'InvalidAction' });
    const res = await fetch(emulator.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=AssumeRole&Version=2011-06-15' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });

  it('injects faults through its control API and forgets calls and faults on their resets', async () => {
    await fetch(`${emulator.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ status: 503, code: 'ServiceUnavailable', count: 1 }) });
    expect(await refusal({})).toMatchObject({ name: 'ServiceUnavailable', status: 503 });
    await expect(assume({})).resolves.toBeDefined();
    const { calls } = (await (await fetch(`${emulator.url}/_emulator/calls`)).json()) as { calls: unknown[] };
    expect(calls).toHaveLength(2);
    await fetch(`${emulator.url}/_emulator/calls/reset`, { method: 'POST' });
    await fetch(`${emulator.url}/_emulator/faults/reset`, { method: 'POST' });
    expect((await emulator.calls()).calls).toEqual([]);
  });
});
