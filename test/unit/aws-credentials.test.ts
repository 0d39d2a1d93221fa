import { DEFAULT_ACCESS_POLICY, decideAccess, type AccessState } from '../../shared/domain/access';
import { ENTITLEMENT_STATUSES } from '../../shared/domain/entitlement';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import fc from 'fast-check';
import { apiKeysSection, credentialsSection, loadConfig } from '../../shared/config';
import {
  CREDENTIAL_ACTIONS,
  roleSessionName,
  sessionPolicy,
  sourceIdentity,
} from '../../shared/domain/aws-credentials';

const ROLE = 'arn:aws:iam::123456789012:role/subscriber-credentials';
const STS_NAME = /^[\w+=,.@-]{2,64}$/;

describe('credential policy', () => {
  it('grants credentials through the access decision: active and trialing plans, never past_due without grace or after a revoke', () => {
    const catalogue = defaultCatalogue();
    const may = (state: AccessState) => decideAccess(state, catalogue, DEFAULT_ACCESS_POLICY, new Date('2026-11-30T00:00:00Z')).awsCredentials;
    expect(ENTITLEMENT_STATUSES.filter((status) => may({ status, tier: 'basic' }))).toEqual(['active', 'trialing']);
    expect(may({ status: 'active', tier: 'basic', premiumOverride: false })).toBe(false);
    expect(may({ status: 'none', tier: 'free' })).toBe(false);
  });

  it('builds a session policy allowing exactly the given actions', () => {
    expect(sessionPolicy(CREDENTIAL_ACTIONS)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'SpeechToText', Effect: 'Allow', Action: [...CREDENTIAL_ACTIONS], Resource: '*' }],
    });
    expect(JSON.stringify(sessionPolicy(CREDENTIAL_ACTIONS)).length).toBeLessThan(2048);
  });

  it('derives a valid RoleSessionName from any user id', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (userId) => {
        expect(roleSessionName(userId)).toMatch(STS_NAME);
      }),
    );
    expect(roleSessionName('0b7e2f5a-1c2d-4e5f-8a9b-0c1d2e3f4a5b')).toBe('u-0b7e2f5a-1c2d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(roleSessionName('a b/c')).toBe('u-a_b_c');
  });

  it('uses the user id as SourceIdentity only when it meets STS rules', () => {
    expect(sourceIdentity('0b7e2f5a-1c2d-4e5f-8a9b-0c1d2e3f4a5b')).toBe('0b7e2f5a-1c2d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(sourceIdentity('x')).toBeUndefined();
    expect(sourceIdentity('a'.repeat(65))).toBeUndefined();
    expect(sourceIdentity('aws:admin')).toBeUndefined();
    expect(sourceIdentity('has space')).toBeUndefined();
  });
});

describe('credentials configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ c: credentialsSection }, { CREDENTIALS_ROLE_ARN: ROLE, ...env }).c;

  it('defaults to 900 s, every allowed action and 10 grants a minute', () => {
    expect(load({})).toEqual({
      CREDENTIALS_ROLE_ARN: ROLE,
      CREDENTIALS_DURATION_SECONDS: 900,
      CREDENTIALS_ALLOWED_ACTIONS: [...CREDENTIAL_ACTIONS],
      CREDENTIALS_RATE_LIMIT_PER_MINUTE: 10,
    });
  });

  it('caps the duration at 900..3600 s', () => {
    expect(load({ CREDENTIALS_DURATION_SECONDS: '3600' }).CREDENTIALS_DURATION_SECONDS).toBe(3600);
    expect(() => load({ CREDENTIALS_DURATION_SECONDS: '3601' })).toThrow(/CREDENTIALS_DURATION_SECONDS: must be at most 3600/);
    expect(() => load({ CREDENTIALS_DURATION_SECONDS: '899' })).toThrow(/CREDENTIALS_DURATION_SECONDS: must be at least 900/);
    expect(() => load({ CREDENTIALS_DURATION_SECONDS: '12.5' })).toThrow(/CREDENTIALS_DURATION_SECONDS/);
  });

  it('lets the action list narrow, never widen, the role', () => {
    expect(load({ CREDENTIALS_ALLOWED_ACTIONS: ' transcribe:StartStreamTranscription ,' }).CREDENTIALS_ALLOWED_ACTIONS).toEqual(['transcribe:StartStreamTranscription']);
    expect(() => load({ CREDENTIALS_ALLOWED_ACTIONS: 'transcribe:StartStreamTranscription,s3:GetObject' })).toThrow(/not allowed: s3:GetObject/);
    expect(() => load({ CREDENTIALS_ALLOWED_ACTIONS: ',' })).toThrow(/CREDENTIALS_ALLOWED_ACTIONS/);
  });

  it('requires a role ARN and a URL for the STS endpoint override', () => {
    expect(() => loadConfig({ c: credentialsSection }, {})).toThrow(/CREDENTIALS_ROLE_ARN is required/);
    expect(() => load({ CREDENTIALS_ROLE_ARN: 'my-role' })).toThrow(/must be an IAM role ARN/);
    expect(() => load({ STS_ENDPOINT: 'not a url' })).toThrow(/STS_ENDPOINT/);
  });

  it('reads the API key rate limit, one second by default', () => {
    expect(loadConfig({ k: apiKeysSection }, {}).k).toEqual({ API_KEY_RATE_LIMIT: 10, API_KEY_RATE_WINDOW_MS: 1000 });
    expect(() => loadConfig({ k: apiKeysSection }, { API_KEY_RATE_LIMIT: '0' })).toThrow(/API_KEY_RATE_LIMIT/);
  });
});
