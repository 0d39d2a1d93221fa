import { randomUUID } from 'node:crypto';
import { AdminDeleteUserCommand, InitiateAuthCommand, UpdateUserAttributesCommand, VerifyUserAttributeCommand } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { RedisReadThroughCache } from '../../shared/adapters/redis/cache';
import { closeRedisClients, createRedisClient } from '../../shared/adapters/redis/client';
import { DynamoEntitlementStore } from '../../shared/adapters/dynamodb/entitlements-store';
import { DynamoUserStore } from '../../shared/adapters/dynamodb/users-store';
import { EmailTakenError } from '../../shared/ports/users';
import { accessDecider } from '../../shared/wiring/access';
import { catalogueWith, defaultCatalogue } from '../fixtures/catalogue';
import { setPremiumOverride } from '../../shared/use-cases/premium-override';
import { attributeVerificationCode, cognitoAttributes, cognitoClient, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';
import { stripeClient } from '../fixtures/stripe';
import { activeSubscriber } from '../fixtures/subscribers';

/**
 * Email ownership through the real flow: cognito-local (keepOriginal, an app
 * client without write access to `email`), the gateway, DynamoDB Local and
 * Redis. The premium check by email answers for the account that owns the
 * verified address now, from DynamoDB and from the cache.
 */
let docClient: DynamoDBDocumentClient | undefined;
const doc = () =>
  (docClient ??= DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint), { marshallOptions: { removeUndefinedValues: true } }));
const env = () => localStack().handlerEnv;
const users = () => new DynamoUserStore(doc(), env().TABLE_USERS!, env().TABLE_EMAIL_OWNERS!);
const entitlements = () => new DynamoEntitlementStore(doc(), { entitlements: env().TABLE_ENTITLEMENTS!, users: env().TABLE_USERS! });
const cache = () =>
  new RedisReadThroughCache(
    createRedisClient({ REDIS_URL: env().REDIS_URL!, REDIS_DISABLED: false, REDIS_CONNECT_TIMEOUT_MS: 1000, REDIS_COMMAND_TIMEOUT_MS: 500 }),
    { ttlSeconds: 300, breaker: { failureThreshold: 3, cooldownMs: 5000 } },
  );

const premium = async (email: string) => {
  const res = await api('/v1/premium/check', { method: 'POST', headers: { 'x-api-key': localStack().internalApiKey }, json: { email } });
  expect(res.status).toBe(200);
  return res.body as { premium: boolean; source: 'cache' | 'db' };
};
/**
 * The first answer (and whether DynamoDB gave it), then the answer once it is
 * served from the cache. Late webhooks of a new subscription may invalidate
 * the key in between, so it reads until the cache answers; every answer must agree.
 */
const premiumEverywhere = async (email: string) => {
  const first = await premium(email);
  let last = first;
  const deadline = Date.now() + 5000;
  while (last.source !== 'cache' && Date.now() < deadline) {
    last = await premium(email);
    expect(last.premium).toBe(first.premium);
  }
  expect(last.source).toBe('cache');
  return { db: first.source === 'db' ? first.premium : undefined, first: first.premium, cache: last.premium };
};
const me = (user: TestUser, path: string, json: unknown) => api(path, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}` }, json });
const ownerOf = async (email: string) =>
  (await doc().send(new GetCommand({ TableName: env().TABLE_EMAIL_OWNERS!, Key: { email }, ConsistentRead: true }))).Item?.userId as string | undefined;
const { decide } = accessDecider(defaultCatalogue());
const newAddress = (prefix: string) => `${prefix}-${randomUUID()}@example.com`;
const grantPremium = async (email: string, on: boolean) =>
  expect(await setPremiumOverride({ users: users(), entitlements: entitlements(), cache: cache(), decide, now: () => new Date() }, email, on)).toMatchObject({
    outcome: 'written',
  });

async function changeEmail(user: TestUser, to: string) {
  const started = await me(user, '/me/email', { email: `  ${to.toUpperCase()} ` });
  expect(started).toMatchObject({ status: 202, body: { email: user.email, pendingEmail: to } });
  const verified = await me(user, '/me/email/verify', { code: attributeVerificationCode(user) });
  expect(verified).toMatchObject({ status: 200, body: { email: to } });
}

afterAll(async () => {
  await closeRedisClients();
  docClient?.destroy();
});

describe('the direct Cognito path is closed', () => {
  it("refuses UpdateUserAttributes{email} with the user's own access token, and nothing moves", async () => {
    const user = await signUpAndSignIn('direct');
    const client = cognitoClient();
    try {
      await expect(
        client.send(new UpdateUserAttributesCommand({ AccessToken: user.accessToken, UserAttributes: [{ Name: 'email', Value: newAddress('direct-new') }] })),
      ).rejects.toMatchObject({ name: 'NotAuthorizedException', message: 'A client attempted to write unauthorized attribute' });
      // Attributes the client may write still work: the refusal is about `email`.
      await client.send(new UpdateUserAttributesCommand({ AccessToken: user.accessToken, UserAttributes: [{ Name: 'name', Value: 'Direct Tester' }] }));
    } finally {
      client.destroy();
    }
    expect(await cognitoAttributes(user.sub)).toMatchObject({ email: user.email, name: 'Direct Tester' });
    expect((await users().get(user.sub, { consistent: true }))?.email).toBe(user.email);
    expect(await ownerOf(user.email)).toBe(user.sub);
  });
});

describe('an email change through the backend', () => {
  it('moves premium to the new address, and the released address answers for its next owner only (DynamoDB and cache)', async () => {
    const alice = await activeSubscriber('email-move', 'pro');
    const to = newAddress('email-moved');
    expect(await premiumEverywhere(alice.email)).toMatchObject({ first: true, cache: true });
    expect(await premiumEverywhere(to)).toMatchObject({ first: false, cache: false });

    await changeEmail(alice, to);

    // Cognito holds the new address (verified) and signs her in with it.
    expect(await cognitoAttributes(alice.sub)).toMatchObject({ email: to, email_verified: 'true' });
    const client = cognitoClient();
    try {
      const auth = await client.send(
        new InitiateAuthCommand({ ClientId: localStack().cognito.clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: to, PASSWORD: alice.password } }),
      );
      expect(auth.AuthenticationResult?.AccessToken).toBeTruthy();
    } finally {
      client.destroy();
    }
    expect(await ownerOf(to)).toBe(alice.sub);
    expect(await ownerOf(alice.email)).toBeUndefined();
    // Stripe's receipts and dunning follow (regression, review: they kept going to the released address).
    const customerId = (await users().get(alice.sub, { consistent: true }))?.stripeCustomerId as string;
    expect(((await stripeClient().customers.retrieve(customerId)) as { email?: string }).email).toBe(to);
    // Both cached answers were dropped: the first answer after the change comes from DynamoDB.
    expect(await premiumEverywhere(to)).toEqual({ db: true, first: true, cache: true });
    expect(await premiumEverywhere(alice.email)).toEqual({ db: false, first: false, cache: false });

    // Someone else signs up with the released address: it answers for them, never for Alice.
    const bob = await signUpAndSignIn('unused', alice.email);
    expect(await ownerOf(alice.email)).toBe(bob.sub);
    expect((await premium(alice.email)).premium).toBe(false);
    await grantPremium(alice.email, true);
    expect((await entitlements().get(bob.sub, { consistent: true }))?.premiumOverride).toBeDefined();
    expect((await entitlements().get(alice.sub, { consistent: true }))?.premiumOverride).toBeUndefined();
    await grantPremium(alice.email, false);
    expect(await premiumEverywhere(alice.email)).toEqual({ db: false, first: false, cache: false });
    expect(await premiumEverywhere(to)).toMatchObject({ first: true, cache: true });
  });

  it('a wrong code changes nothing and gives the claim back; the right code then works', async () => {
    const user = await signUpAndSignIn('email-wrong-code');
    const to = newAddress('email-wrong-code-new');
    expect((await me(user, '/me/email', { email: to })).status).toBe(202);
    const wrong = await me(user, '/me/email/verify', { code: '000000x' });
    expect(wrong).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    expect(wrong.body.error.message).toMatch(/^code: /);
    expect(await cognitoAttributes(user.sub)).toMatchObject({ email: user.email });
    expect(await ownerOf(to)).toBeUndefined();
    expect((await users().get(user.sub, { consistent: true }))?.email).toBe(user.email);

    expect(await me(user, '/me/email/verify', { code: attributeVerificationCode(user) })).toMatchObject({ status: 200, body: { email: to } });
  });

  it('answers 400 to bad input, 409 without a pending change, 200 for its own address, and writes nothing', async () => {
    const user = await signUpAndSignIn('email-input');
    expect(await me(user, '/me/email', { email: 'not-an-email' })).toMatchObject({ status: 400, body: { error: { code: 'validation_failed' } } });
    expect(await me(user, '/me/email/verify', { code: '' })).toMatchObject({ status: 400 });
    expect(await me(user, '/me/email/verify', { code: '123456' })).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await me(user, '/me/email', { email: user.email.toUpperCase() })).toMatchObject({ status: 200, body: { email: user.email, pendingEmail: null } });
    expect(await api('/me/email', { method: 'POST', json: { email: newAddress('anon') } })).toMatchObject({ status: 401 });
    expect(await users().get(user.sub, { consistent: true })).not.toHaveProperty('pendingEmail');
  });

  it("refuses an address another account holds, and a sign-up with an address someone is moving to wins it", async () => {
    const alice = await signUpAndSignIn('email-race-a');
    const bob = await signUpAndSignIn('email-race-b');
    expect(await me(alice, '/me/email', { email: bob.email })).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });

    const contested = newAddress('email-contested');
    expect((await me(alice, '/me/email', { email: contested })).status).toBe(202);
    // Before Alice verifies, Carol signs up with the address: Cognito lets her (Alice's is still pending).
    const carol = await signUpAndSignIn('unused', contested);
    expect(await ownerOf(contested)).toBe(carol.sub);
    expect(await me(alice, '/me/email/verify', { code: attributeVerificationCode(alice) })).toMatchObject({ status: 409 });
    expect((await users().get(alice.sub, { consistent: true }))?.email).toBe(alice.email);
    expect(await ownerOf(contested)).toBe(carol.sub);
    expect(await ownerOf(alice.email)).toBe(alice.sub);
  });
});

describe('email ownership in DynamoDB', () => {
  it('is exclusive: of ten profiles claiming one address at once exactly one gets it', async () => {
    const email = newAddress('email-exclusive');
    const ids = Array.from({ length: 10 }, () => randomUUID());
    const results = await Promise.allSettled(ids.map((userId) => users().createIfAbsent({ userId, email, createdAt: new Date().toISOString() })));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' && r.value ? [ids[i]] : []));
    expect(won).toHaveLength(1);
    const lost = results.filter((r) => r.status === 'rejected');
    expect(lost).toHaveLength(9);
    for (const r of lost) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(EmailTakenError);
    expect(await ownerOf(email)).toBe(won[0]);
    expect((await users().findByEmail(email))?.userId).toBe(won[0]);
    // The losers left no profile behind: the profile and the claim are one write.
    for (const id of ids.filter((id) => id !== won[0])) expect(await users().get(id, { consistent: true })).toBeUndefined();
    // A retried trigger of the winner is a no-op.
    await expect(users().createIfAbsent({ userId: won[0]!, email, createdAt: new Date().toISOString() })).resolves.toBe(false);
    expect(await ownerOf(email)).toBe(won[0]);
  });

  it('releases the address of a change that never finished on deletion, and claims nothing for an account being deleted', async () => {
    // Regression (review): a /verify whose Cognito call failed kept its claim, and the purge released only the current address.
    const user = await signUpAndSignIn('email-pending-deleted');
    const to = newAddress('email-pending-deleted-new');
    expect((await me(user, '/me/email', { email: to })).status).toBe(202);
    expect(await users().claim(user.sub, to)).toBe('claimed'); // as /verify does before asking Cognito
    expect(await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } })).toMatchObject({ status: 200 });
    expect(await ownerOf(to)).toBeUndefined();
    expect(await ownerOf(user.email)).toBeUndefined();

    const deleting = await signUpAndSignIn('email-claim-deleting');
    await users().markDeleting(deleting.sub, new Date().toISOString());
    const late = newAddress('email-claim-late');
    expect(await users().claim(deleting.sub, late)).toBe('gone');
    expect(await ownerOf(late)).toBeUndefined();
  });

  it('is released when the account is deleted, and the address can be signed up again', async () => {
    const user = await signUpAndSignIn('email-deleted');
    expect(await api('/me/account', { method: 'DELETE', headers: { authorization: `Bearer ${user.accessToken}` } })).toMatchObject({ status: 200 });
    expect(await ownerOf(user.email)).toBeUndefined();
    const next = await signUpAndSignIn('unused', user.email);
    expect(await ownerOf(user.email)).toBe(next.sub);
  });

  it('passes to a new sign-up when its holder is gone from Cognito (deleted behind our back), cached answer included', async () => {
    const gone = await signUpAndSignIn('email-gone');
    await grantPremium(gone.email, true);
    expect(await premiumEverywhere(gone.email)).toMatchObject({ first: true, cache: true });
    const client = cognitoClient();
    try {
      await client.send(new AdminDeleteUserCommand({ UserPoolId: localStack().cognito.userPoolId, Username: gone.sub }));
    } finally {
      client.destroy();
    }
    const next = await signUpAndSignIn('unused', gone.email);
    expect(await ownerOf(gone.email)).toBe(next.sub);
    expect((await users().findByEmail(gone.email))?.userId).toBe(next.sub);
    expect((await users().get(gone.sub, { consistent: true }))?.email).toBeUndefined();
    expect(await premiumEverywhere(gone.email)).toEqual({ db: false, first: false, cache: false });
  });
});

describe('a change verified straight with Cognito (VerifyUserAttribute with the user token)', () => {
  it('never lets the released address answer for its old holder once someone else signs up with it; /verify then completes the move', async () => {
    const alice = await signUpAndSignIn('email-side');
    await grantPremium(alice.email, true);
    const to = newAddress('email-side-new');
    expect((await me(alice, '/me/email', { email: to })).status).toBe(202);
    const client = cognitoClient();
    try {
      await client.send(new VerifyUserAttributeCommand({ AccessToken: alice.accessToken, AttributeName: 'email', Code: attributeVerificationCode(alice) }));
    } finally {
      client.destroy();
    }
    expect(await cognitoAttributes(alice.sub)).toMatchObject({ email: to });
    expect(await premiumEverywhere(alice.email)).toMatchObject({ first: true, cache: true });

    const bob = await signUpAndSignIn('unused', alice.email);
    expect(await ownerOf(alice.email)).toBe(bob.sub);
    expect(await premiumEverywhere(alice.email)).toEqual({ db: false, first: false, cache: false });

    // Cognito verified the address already: the move completes without a second code check.
    expect(await me(alice, '/me/email/verify', { code: 'already-verified' })).toMatchObject({ status: 200, body: { email: to } });
    expect(await premiumEverywhere(to)).toEqual({ db: true, first: true, cache: true });
    expect(await ownerOf(alice.email)).toBe(bob.sub);
  });
});
