import { createLocalCognitoAuthorizer } from '../../infra/local/authorizer';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { localStack } from '../fixtures/stack';

/**
 * The local gateway's Cognito authorizer must accept and refuse exactly what
 * API Gateway's Cognito authorizer (with the access-token scope) does.
 */
describe('local Cognito authorizer', () => {
  let user: TestUser;
  let authorize: Awaited<ReturnType<typeof createLocalCognitoAuthorizer>>;

  beforeAll(async () => {
    const { cognito } = localStack();
    authorize = await createLocalCognitoAuthorizer({ issuer: cognito.issuer, jwksUri: `${cognito.issuer}/.well-known/jwks.json` });
    user = await signUpAndSignIn('authz');
  });

  it('accepts an access token, raw or as a Bearer token, and passes its claims as strings', async () => {
    for (const header of [user.accessToken, `Bearer ${user.accessToken}`]) {
      const verdict = await authorize(header);
      expect(verdict.ok).toBe(true);
      if (verdict.ok) {
        expect(verdict.claims.sub).toBe(user.sub);
        expect(verdict.claims.client_id).toBe(localStack().cognito.clientId);
        expect(typeof verdict.claims.exp).toBe('string');
      }
    }
  });

  it('refuses an id token where an access token is expected', async () => {
    expect((await authorize(user.idToken)).ok).toBe(false);
  });

  it('refuses a missing header, garbage, and a token with a tampered payload', async () => {
    const [h, p, s] = user.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`;
    for (const header of [undefined, '', 'Bearer', 'not-a-jwt', forged]) {
      expect((await authorize(header)).ok).toBe(false);
    }
  });

  it('refuses a token from another issuer', async () => {
    const { cognito } = localStack();
    const otherPool = await createLocalCognitoAuthorizer({
      issuer: `${cognito.endpoint}/local_otherpool`,
      jwksUri: `${cognito.issuer}/.well-known/jwks.json`,
    });
    expect((await otherPool(user.accessToken)).ok).toBe(false);
  });
});
