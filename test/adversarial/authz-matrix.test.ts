import { CreateUserPoolClientCommand, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { ROUTES, type RouteDefinition } from '../../shared/routes';
import { cognitoClient, cognitoUserExists, signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { localStack } from '../fixtures/stack';
import { stripeClient } from '../fixtures/stripe';
import { activeSubscriber, stsCallsOf } from '../fixtures/subscribers';
import { claimsOf, contractViolation, destroyDoc, getRow, rawApi, signWithCognitoLocalKey, snapshotUser } from './support';

/**
 * Every route x every kind of caller, with the outcome the contract states:
 * public routes answer everyone; internal routes only the internal key (401
 * otherwise, a Cognito token is not a key); /me routes only a valid access
 * token of the app's own client (401 without one, for an expired token, an id
 * token or an API key; 403 for another app client's token) and act only on
 * the caller, checked by effects.
 */
type Kind = 'none' | 'wrongKey' | 'internalKey' | 'otherUserToken' | 'otherClientToken' | 'expiredToken' | 'idToken' | 'ownToken';
const REFUSED: Kind[] = ['none', 'wrongKey', 'internalKey', 'otherUserToken', 'otherClientToken', 'expiredToken', 'idToken'];

let a: TestUser & { subscriptionId: string };
let b: TestUser;
let otherClientToken: string;
let expiredToken: string;
let cells = 0;

const routeKey = (r: RouteDefinition) => `${r.method} ${r.path}`;

function bodyFor(route: RouteDefinition, n: number): string | undefined {
  switch (routeKey(route)) {
    case 'POST /v1/users/{userId}/tokens/consume':
    case 'POST /me/tokens/consume':
      return JSON.stringify({ amount: 1, idempotencyKey: `authz-${n}` });
    case 'POST /v1/users/{userId}/tokens/add':
      return JSON.stringify({ amount: 1, reason: 'authz matrix', idempotencyKey: `authz-add-${n}` });
    case 'PUT /v1/users/{userId}/tier':
      return JSON.stringify({ tier: 'basic' });
    case 'POST /v1/users/{userId}/features/check':
      return JSON.stringify({ feature: 'premium' });
    case 'POST /v1/premium/check':
      return JSON.stringify({ email: a.email });
    case 'POST /v1/api-keys/verify':
      return JSON.stringify({ apiKey: 'ek_not_a_key' });
    case 'POST /me/email':
      return JSON.stringify({ email: `authz-${n}-${a.sub}@example.com` });
    case 'POST /me/email/verify':
      // Never the real code: the user keeps their address for the rest of this file.
      return JSON.stringify({ code: 'not-the-code' });
    case 'POST /me/checkout':
      return JSON.stringify({ topUp: 100 });
    case 'POST /stripe/webhook':
      return JSON.stringify({ id: 'evt_authz', type: 'customer.subscription.updated', data: { object: { customer: 'cus_x' } } });
    default:
      return route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}';
  }
}

function headersFor(kind: Kind): Record<string, string> {
  switch (kind) {
    case 'none':
      return {};
    case 'wrongKey':
      return { 'x-api-key': `${localStack().internalApiKey}x` };
    case 'internalKey':
      return { 'x-api-key': localStack().internalApiKey };
    case 'otherUserToken':
      return { authorization: `Bearer ${b.accessToken}` };
    case 'otherClientToken':
      return { authorization: `Bearer ${otherClientToken}` };
    case 'expiredToken':
      return { authorization: `Bearer ${expiredToken}` };
    case 'idToken':
      return { authorization: `Bearer ${a.idToken}` };
    case 'ownToken':
      return { authorization: `Bearer ${a.accessToken}` };
  }
}

let n = 0;
async function call(route: RouteDefinition, kind: Kind, extraPath = '') {
  n++;
  const path = route.path.replace('{userId}', a.sub) + extraPath;
  const body = bodyFor(route, n);
  const res = await rawApi(path, { method: route.method, headers: { ...headersFor(kind), ...(body ? { 'content-type': 'application/json' } : {}) }, body });
  const problem = contractViolation(res.status, res.text);
  if (problem) throw new Error(`${routeKey(route)} as ${kind}: ${problem}`);
  return { status: res.status, body: JSON.parse(res.text) as Record<string, any> };
}

/** The status the contract gives each refused caller (undefined: checked by effects). */
function expected(route: RouteDefinition, kind: Kind): number | undefined {
  if (route.auth === 'none') return 200;
  if (route.auth === 'stripe-signature') return 400;
  // A JSON body is not Ko-fi's form: refused before any token is looked for (a wrong token is 401: test/integration/kofi.test.ts).
  if (route.auth === 'kofi-token') return 400;
  if (route.auth === 'api-key') return kind === 'internalKey' ? undefined : 401;
  // cognito
  if (kind === 'otherClientToken') return 403;
  if (kind === 'otherUserToken') return undefined;
  return 401;
}

beforeAll(async () => {
  [a, b] = await Promise.all([activeSubscriber('authz-a', 'basic'), signUpAndSignIn('authz-b')]);
  const { cognito } = localStack();
  const client = cognitoClient();
  try {
    // A second app client of the same pool: API Gateway's authorizer accepts its tokens; the handlers must not.
    const created = await client.send(
      new CreateUserPoolClientCommand({ UserPoolId: cognito.userPoolId, ClientName: 'adversarial-other-app', ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'] }),
    );
    const auth = await client.send(
      new InitiateAuthCommand({ ClientId: created.UserPoolClient!.ClientId!, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: a.email, PASSWORD: a.password } }),
    );
    otherClientToken = auth.AuthenticationResult!.AccessToken!;
    expect(claimsOf(otherClientToken).client_id).not.toBe(cognito.clientId);
  } finally {
    client.destroy();
  }
  // A's own access token, signed by cognito-local's key, with an exp in the past.
  const now = Math.floor(Date.now() / 1000);
  expiredToken = signWithCognitoLocalKey({ ...claimsOf(a.accessToken), iat: now - 7200, auth_time: now - 7200, exp: now - 60 });
});

afterAll(() => {
  destroyDoc();
  process.stdout.write(`[authz] ${cells} matrix cells checked (${ROUTES.length} routes)\n`);
});

describe('authorization matrix', () => {
  it('the forged-but-expired token is refused only for its exp: the same token with a future exp is accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const fresh = signWithCognitoLocalKey({ ...claimsOf(a.accessToken), iat: now, exp: now + 600 });
    const ok = await rawApi('/me/entitlements', { headers: { authorization: `Bearer ${fresh}` } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).userId).toBe(a.sub);
    const expired = await rawApi('/me/entitlements', { headers: { authorization: `Bearer ${expiredToken}` } });
    expect(expired.status).toBe(401);
  });

  it('refuses every credential a route does not take, on every route, and writes nothing for the user', async () => {
    const before = await snapshotUser(a.sub);
    const wrong: string[] = [];
    for (const route of ROUTES) {
      for (const kind of REFUSED) {
        const want = expected(route, kind);
        if (want === undefined) continue;
        const res = await call(route, kind);
        cells++;
        if (res.status !== want) wrong.push(`${routeKey(route)} as ${kind}: ${res.status} (want ${want}) ${JSON.stringify(res.body)}`);
        else if (want === 401) expect(res.body.error.code).toBe('unauthorized');
        else if (want === 403) expect(res.body.error.code).toBe('forbidden');
      }
    }
    expect(wrong).toEqual([]);
    expect(await snapshotUser(a.sub)).toBe(before);
    expect(await cognitoUserExists(a)).toBe(true);
    expect((await stripeClient().subscriptions.retrieve(a.subscriptionId)).status).toBe('active');
  });

  it('serves the right credential (positive controls: the refusals above are about the credential, not the request)', async () => {
    for (const route of ROUTES.filter((r) => r.auth === 'api-key')) {
      const res = await call(route, 'internalKey');
      cells++;
      expect([200, 201]).toContain(res.status);
    }
    const wants: Record<string, number> = {
      'GET /me/entitlements': 200,
      'POST /me/tokens/consume': 200,
      'POST /me/checkout': 200,
      'POST /me/billing-portal': 200,
      'POST /me/aws-credentials': 200,
      'POST /me/api-keys': 201,
      'POST /me/email': 202,
      // Authorised, then the (wrong) code is refused: the refusal is about the code, not the credential.
      'POST /me/email/verify': 400,
    };
    for (const route of ROUTES.filter((r) => r.auth === 'cognito' && r.method !== 'DELETE')) {
      const res = await call(route, 'ownToken');
      cells++;
      expect(`${routeKey(route)} ${res.status}`).toBe(`${routeKey(route)} ${wants[routeKey(route)]}`);
    }
  });

  it("acts only on the caller with another user's token: B's calls never touch A, whatever the path or query says", async () => {
    const aBefore = await snapshotUser(a.sub);
    const aSts = (await stsCallsOf(a.sub)).length;
    const byRoute = Object.fromEntries(ROUTES.map((r) => [routeKey(r), r])) as Record<string, RouteDefinition>;
    const asB = (key: string) => call(byRoute[key]!, 'otherUserToken', `?userId=${encodeURIComponent(a.sub)}&sub=${encodeURIComponent(a.sub)}`);

    const entitlements = await asB('GET /me/entitlements');
    expect(entitlements.status).toBe(200);
    expect(entitlements.body).toMatchObject({ userId: b.sub, status: 'none', premium: false });
    // A is active with tokens; B (free) has none: the balance consulted is B's.
    expect((await asB('POST /me/tokens/consume')).status).toBe(402);
    // A is active; B is not: credentials are refused on B's entitlement, and STS is never called for A.
    expect((await asB('POST /me/aws-credentials')).status).toBe(403);
    expect((await asB('POST /me/api-keys')).status).toBe(403);
    expect((await asB('POST /me/checkout')).status).toBe(200);
    expect((await asB('POST /me/billing-portal')).status).toBe(200);
    cells += 6;

    expect(await snapshotUser(a.sub)).toBe(aBefore);
    expect((await stsCallsOf(a.sub)).length).toBe(aSts);

    // B deletes B's account: A keeps every row, the Cognito user and the Stripe subscription.
    const deleted = await asB('DELETE /me/account');
    cells++;
    expect(deleted).toMatchObject({ status: 200, body: { deleted: true, status: 'deleted' } });
    expect(await getRow('TABLE_USERS', b.sub)).toBeUndefined();
    expect(await getRow('TABLE_ENTITLEMENTS', b.sub)).toBeUndefined();
    expect(await cognitoUserExists(b)).toBe(false);
    expect(await snapshotUser(a.sub)).toBe(aBefore);
    expect(await cognitoUserExists(a)).toBe(true);
    expect((await stripeClient().subscriptions.retrieve(a.subscriptionId)).status).toBe('active');
    const aNow = await call(byRoute['GET /me/entitlements']!, 'ownToken');
    expect(aNow.body).toMatchObject({ userId: a.sub, status: 'active', premium: true });
  });
});
