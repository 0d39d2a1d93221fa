import { JwtVerifier } from 'aws-jwt-verify';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';

/** The scope only Cognito ACCESS tokens carry: requiring it refuses id tokens, as the deployed authorizer does. */
export const COGNITO_ACCESS_SCOPE = 'aws.cognito.signin.user.admin';

export type AuthorizeResult = { ok: true; claims: Record<string, string> } | { ok: false; reason: string };

/**
 * The local stand-in for API Gateway's Cognito user pools authorizer with
 * `authorizationScopes: [aws.cognito.signin.user.admin]`: signature against
 * the pool's JWKS, issuer, expiry, and the access-token scope. cognito-local
 * serves its JWKS over http, which aws-jwt-verify refuses to fetch, so the
 * keys are fetched here and handed to the verifier.
 */
export async function createLocalCognitoAuthorizer(options: { issuer: string; jwksUri: string }) {
  const response = await fetch(options.jwksUri);
  if (!response.ok) throw new Error(`Could not fetch JWKS from ${options.jwksUri}: ${response.status}`);
  const jwks = (await response.json()) as Parameters<ReturnType<typeof JwtVerifier.create>['cacheJwks']>[0];
  const verifier = JwtVerifier.create({
    issuer: options.issuer,
    audience: null,
    scope: [COGNITO_ACCESS_SCOPE],
    jwksUri: options.jwksUri,
  });
  verifier.cacheJwks(jwks);

  return async function authorize(authorizationHeader: string | undefined): Promise<AuthorizeResult> {
    if (!authorizationHeader) return { ok: false, reason: 'missing Authorization header' };
    const token = authorizationHeader.replace(/^Bearer\s+/i, '').trim();
    try {
      const payload: JwtPayload = await verifier.verify(token);
      if (payload.token_use !== 'access') return { ok: false, reason: 'not an access token' };
      // API Gateway hands the claims to the integration as strings.
      const claims: Record<string, string> = {};
      for (const [k, v] of Object.entries(payload)) claims[k] = typeof v === 'string' ? v : JSON.stringify(v);
      return { ok: true, claims };
    } catch (err) {
      return { ok: false, reason: (err as Error).name };
    }
  };
}
