import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamodb';
import { cognitoUserExists, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';
import { control, eventually, stripeClient } from '../fixtures/stripe';

const env = () => localStack().handlerEnv;
const doc = () => DynamoDBDocumentClient.from(localDynamoClient(localStack().dynamodbEndpoint));
const get = async (table: string, key: Record<string, string>) =>
  (await doc().send(new GetCommand({ TableName: env()[table], Key: key, ConsistentRead: true }))).Item;
const auth = (user: TestUser) => ({ authorization: `Bearer ${user.accessToken}` });
const del = (user: TestUser) => api('/me/account', { method: 'DELETE', headers: auth(user) });

async function subscribed(prefix: string): Promise<{ user: TestUser; customerId: string }> {
  const user = await signUpAndSignIn(prefix);
  await control('POST', '/subscribe', { email: user.email, tier: 'pro' });
  await eventually(async () => {
    const res = await api('/me/entitlements', { headers: auth(user) });
    expect(res.body.status).toBe('active');
  });
  const customerId = (await get('TABLE_USERS', { userId: user.sub }))!.stripeCustomerId as string;
  return { user, customerId };
}

describe('DELETE /me/account', () => {
  it('removes the user from Stripe, DynamoDB and Cognito, and is safe to call again', async () => {
    const { user, customerId } = await subscribed('delete');
    const other = await subscribed('bystander');

    const res = await del(user);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ deleted: true, status: 'deleted' });

    const customer = await stripeClient().customers.retrieve(customerId);
    expect(customer.deleted).toBe(true);
    expect(await get('TABLE_USERS', { userId: user.sub })).toBeUndefined();
    expect(await get('TABLE_ENTITLEMENTS', { userId: user.sub })).toBeUndefined();
    expect(await cognitoUserExists(user)).toBe(false);

    // The access token is still a valid JWT until it expires: a second call just answers again.
    const again = await del(user);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ deleted: true, status: 'deleted' });

    // The caller's token decided whose account went: the bystander is untouched.
    expect(await get('TABLE_USERS', { userId: other.user.sub })).toBeDefined();
    expect((await api('/me/entitlements', { headers: auth(other.user) })).body.status).toBe('active');
    expect(await cognitoUserExists(other.user)).toBe(true);
  });

  it('resumes after Stripe fails at each step, and late webhooks create nothing', async () => {
    const { user, customerId } = await subscribed('resume');
    const steps = [
      { method: 'GET', path: '^/v1/subscriptions' },
      { method: 'DELETE', path: '^/v1/subscriptions/' },
      { method: 'DELETE', path: `^/v1/customers/${customerId}$` },
    ];
    for (const fault of steps) {
      // Webhooks still in flight from the subscription would use the fault up: let them land first.
      await control('POST', '/delivery/flush');
      await control('POST', '/faults', { ...fault, status: 500, count: 3 });
      const failed = await del(user);
      await control('POST', '/faults/reset');
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('dependency_unavailable');
      // Marked as deleting from the first attempt on: the user is not half-served meanwhile.
      expect(await get('TABLE_USERS', { userId: user.sub })).toHaveProperty('deletingAt');
      expect(await cognitoUserExists(user)).toBe(true);
    }
    const done = await del(user);
    expect(done.status).toBe(200);
    expect((await stripeClient().customers.retrieve(customerId)).deleted).toBe(true);
    expect(await get('TABLE_USERS', { userId: user.sub })).toBeUndefined();
    expect(await get('TABLE_ENTITLEMENTS', { userId: user.sub })).toBeUndefined();
    expect(await cognitoUserExists(user)).toBe(false);

    // Replaying the customer's events after deletion is ignored and writes no rows.
    const log = await control<Array<{ event: { id: string; data: { object: { customer?: string; id?: string } } } }>>('GET', '/events');
    const events = log.map((entry) => entry.event).filter((e) => e.data.object.customer === customerId || e.data.object.id === customerId);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events.slice(0, 5)) await control('POST', `/events/${e.id}/resend`);
    await new Promise((r) => setTimeout(r, 500));
    expect(await get('TABLE_USERS', { userId: user.sub })).toBeUndefined();
    expect(await get('TABLE_ENTITLEMENTS', { userId: user.sub })).toBeUndefined();
  });

  it('needs an access token', async () => {
    const res = await api('/me/account', { method: 'DELETE' });
    expect(res.status).toBe(401);
  });
});
