import type { APIGatewayProxyEvent } from 'aws-lambda';
import { InternalApiKeys, cognitoCaller } from '../../shared/http/auth';
import { ForbiddenError, UnauthorizedError } from '../../shared/http/errors';

function withClaims(claims: Record<string, string> | undefined, extra: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return { headers: {}, requestContext: { authorizer: claims ? { claims } : null }, ...extra } as unknown as APIGatewayProxyEvent;
}

describe('cognitoCaller', () => {
  it('takes the user id from the verified sub only', () => {
    const event = withClaims({ sub: 'user-1', client_id: 'app', username: 'u1' }, { pathParameters: { userId: 'user-2' }, body: '{"userId":"user-3"}' });
    expect(cognitoCaller(event, ['app'])).toEqual({ userId: 'user-1', clientId: 'app', username: 'u1' });
  });

  it('refuses a request without claims with 401', () => {
    expect(() => cognitoCaller(withClaims(undefined))).toThrow(UnauthorizedError);
    expect(() => cognitoCaller(withClaims({ sub: '' }))).toThrow(UnauthorizedError);
  });

  it('refuses a token issued to another app client of the pool with 403', () => {
    expect(() => cognitoCaller(withClaims({ sub: 'u', client_id: 'other' }), ['app'])).toThrow(ForbiddenError);
    expect(() => cognitoCaller(withClaims({ sub: 'u' }), ['app'])).toThrow(ForbiddenError);
  });
});

describe('InternalApiKeys', () => {
  const keys = new InternalApiKeys(['current-key-0123456789', 'previous-key-9876543210']);
  const request = (key?: string) => ({ headers: key === undefined ? {} : { 'X-Api-Key': key } });

  it('accepts every configured key, so keys rotate without downtime', () => {
    expect(keys.matches('current-key-0123456789')).toBe(true);
    expect(keys.matches('previous-key-9876543210')).toBe(true);
    expect(() => keys.assert(request('previous-key-9876543210'))).not.toThrow();
  });

  it('refuses prefixes, extensions, case changes and empty keys', () => {
    for (const candidate of ['current-key-012345678', 'current-key-01234567890', 'CURRENT-KEY-0123456789', '', ' current-key-0123456789']) {
      expect(keys.matches(candidate)).toBe(false);
    }
  });

  it('answers 401 for a missing or wrong x-api-key, and for a Bearer token instead of a key', () => {
    expect(() => keys.assert(request())).toThrow(/x-api-key header is required/);
    expect(() => keys.assert(request('wrong'))).toThrow(UnauthorizedError);
    expect(() => keys.assert({ headers: { Authorization: 'Bearer current-key-0123456789' } })).toThrow(UnauthorizedError);
  });

  it('parses the secret as a JSON array or a comma-separated list', () => {
    expect(InternalApiKeys.parse('["a-key","b-key"]').matches('b-key')).toBe(true);
    expect(InternalApiKeys.parse(' a-key , b-key ').matches('a-key')).toBe(true);
    expect(() => InternalApiKeys.parse('[1,2]')).toThrow(/JSON array of strings/);
    expect(() => InternalApiKeys.parse(' , ')).toThrow(/At least one/);
  });
});
