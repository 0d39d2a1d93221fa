import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ForbiddenError, UnauthorizedError } from './errors';
import { header } from './request';

/** What a /me route knows about its caller: only what the verified token says. */
export interface CognitoCaller {
  userId: string;
  clientId?: string;
  username?: string;
}

/**
 * The Cognito `sub` from the claims API Gateway's authorizer put in the event.
 * The user id never comes from the path or body on /me routes. When
 * `allowedClientIds` is given, tokens issued to other app clients of the same
 * pool are refused (API Gateway's Cognito authorizer checks only the pool).
 */
export function cognitoCaller(event: APIGatewayProxyEvent, allowedClientIds?: readonly string[]): CognitoCaller {
  const claims = (event.requestContext?.authorizer as { claims?: Record<string, unknown> } | null | undefined)?.claims;
  const sub = claims?.sub;
  if (typeof sub !== 'string' || sub.length === 0) {
    throw new UnauthorizedError('A Cognito access token is required');
  }
  const clientId = typeof claims?.client_id === 'string' ? claims.client_id : undefined;
  if (allowedClientIds && allowedClientIds.length > 0 && (clientId === undefined || !allowedClientIds.includes(clientId))) {
    throw new ForbiddenError('This token was not issued to an allowed app client');
  }
  const username = typeof claims?.username === 'string' ? claims.username : undefined;
  return { userId: sub, clientId, username };
}

// One-shot crypto.hash (Node 20.12+) is ~2x cheaper than createHash on the hot path of every internal call.
const oneShotHash = typeof crypto.hash === 'function' ? crypto.hash : undefined;

function digest(value: string): Buffer {
  return oneShotHash ? oneShotHash('sha256', value, 'buffer') : createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks internal API keys in constant time. Keys are compared as SHA-256
 * digests (equal length whatever the input), and every configured key is
 * compared on every call, so timing says nothing about how much matched or
 * which key did. Several keys are accepted at once so they can be rotated.
 */
export class InternalApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    const usable = keys.map((k) => k.trim()).filter((k) => k.length > 0);
    if (usable.length === 0) throw new Error('At least one internal API key must be configured');
    this.digests = usable.map(digest);
  }

  /** Parses a secret value: a JSON array of strings or a comma-separated list. */
  static parse(secretValue: string): InternalApiKeys {
    const trimmed = secretValue.trim();
    if (trimmed.startsWith('[')) {
      const parsed: unknown = JSON.parse(trimmed);
      if (!Array.isArray(parsed) || !parsed.every((k) => typeof k === 'string')) {
        throw new Error('Internal API keys secret must be a JSON array of strings');
      }
      return new InternalApiKeys(parsed);
    }
    return new InternalApiKeys(trimmed.split(','));
  }

  matches(candidate: string): boolean {
    const given = digest(candidate);
    let ok = false;
    for (const expected of this.digests) {
      // No short-circuit: every key is compared.
      ok = timingSafeEqual(given, expected) || ok;
    }
    return ok;
  }

  /** 401 when `x-api-key` is missing or wrong; a Bearer token is not an API key. */
  assert(event: Pick<APIGatewayProxyEvent, 'headers'>): void {
    const key = header(event, 'x-api-key');
    if (key === undefined || key.length === 0) {
      throw new UnauthorizedError('The x-api-key header is required');
    }
    if (!this.matches(key)) throw new UnauthorizedError('Invalid API key');
  }
}
