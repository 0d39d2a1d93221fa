import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { Contention, DependencyUnavailable } from '../ports/errors';
import { errorPolicy } from './error-policy';
import { cognitoCaller, type CognitoCaller, type InternalApiKeys } from './auth';
import { InternalError, NotFoundError } from './errors';
import { toErrorResponse } from './response';
import { logger } from '../observability/logger';
import { flushMetrics } from '../observability/metrics';

export type HttpUseCase = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
/** What every HTTP function exports as `handler`. */
export type HttpHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * Wraps a thin HTTP handler: correlation ids on every log line, and every
 * error through one catch to the one error policy (./error-policy.ts), which
 * maps each error type once. Expected 4xx are logged at info, a dependency
 * failure at warn with the dependency's name, anything else at error with the
 * stack (never sent to the caller).
 */
export function httpHandler(useCase: HttpUseCase): HttpHandler {
  return async (event, context) => {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId;
    // One key, overwritten by the next invocation: no reset needed (and this is
    // on the premium check's hot path, where every microsecond shows).
    logger.appendKeys({ requestId });
    if (context?.awsRequestId) logger.addContext(context);
    try {
      const result = await useCase(event, context);
      result.headers = { ...result.headers, 'x-request-id': requestId };
      return result;
    } catch (err) {
      const http = errorPolicy.toHttpError(err);
      if (http.expose) {
        logger.info('request refused', { route: routeKey(event), statusCode: http.statusCode, code: http.code, reason: http.message });
      } else if (err instanceof DependencyUnavailable) {
        logger.warn('dependency unavailable', { route: routeKey(event), dependency: err.dependency, failure: err.failure, cause: describeCause(err.cause) });
      } else if (err instanceof Contention) {
        logger.warn('write gave up under contention', { route: routeKey(event), reason: err.message });
      } else {
        logger.error('request failed', { route: routeKey(event), statusCode: http.statusCode, error: err as Error });
      }
      return toErrorResponse(http, requestId);
    } finally {
      flushMetrics();
    }
  };
}

/** The SDK error behind a dependency failure, for the logs: its type and code, not a stack per outage. */
function describeCause(cause: unknown): Record<string, unknown> | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const c = cause as { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  return { name: c.name, code: c.code, httpStatusCode: c.$metadata?.httpStatusCode, message: c.message };
}

/** Dispatch for functions that serve several routes: keyed by `METHOD /resource/{template}`. */
export function routeKey(event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource'>): string {
  return `${event.httpMethod.toUpperCase()} ${event.resource}`;
}

/**
 * The one way a function serves several routes: a table keyed by
 * `METHOD /resource/{template}` (the manifest's keys); any other is 404.
 */
export function byRoute(routes: Record<string, HttpUseCase>): HttpUseCase {
  return (event, context) => {
    const serve = routes[routeKey(event)];
    if (!serve) throw new NotFoundError('No route for this method and path');
    return serve(event, context);
  };
}

/**
 * For work a caller will retry on any 5xx (Stripe's webhook delivery): a
 * refusal raised after the request was accepted is our fault, never the
 * caller's, so it becomes a 500 instead of a 4xx that would stop the retries.
 * Dependency failures keep their 503.
 */
export function retryableFailure(err: unknown): never {
  if (errorPolicy.toHttpError(err).expose) throw new InternalError((err as Error).message);
  throw err;
}

/**
 * A /me route: the caller is who the verified Cognito token says (the user id
 * only from its `sub`, never from the path or body), from one of our app
 * clients; 401/403 otherwise, before anything is read.
 */
export function asCaller(
  clientIds: readonly string[],
  serve: (caller: CognitoCaller, event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>,
): HttpUseCase {
  return (event, context) => serve(cognitoCaller(event, clientIds), event, context);
}

/**
 * A route for the app's backends: the `x-api-key` is checked first, in
 * constant time, before anything else is read. The keys are read once (a
 * failed read is a dependency failure, 503, and the next call reads again).
 */
export function withInternalKey(keys: () => Promise<InternalApiKeys>, serve: HttpUseCase): HttpUseCase {
  let resolved: InternalApiKeys | undefined;
  return async (event, context) => {
    // Resolved once, then checked synchronously: the premium check's hot path pays no extra await.
    (resolved ??= await keys()).assert(event);
    return serve(event, context);
  };
}
