import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { AppError } from './errors';
import { toErrorResponse } from './response';
import { logger } from '../observability/logger';

export type HttpUseCase = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * Wraps a thin HTTP handler: correlation ids on every log line, and every
 * error through one catch to one mapper. Expected 4xx are logged at info,
 * anything else at error with the stack (never sent to the caller).
 */
export function httpHandler(useCase: HttpUseCase): (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> {
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
      if (err instanceof AppError && err.expose) {
        logger.info('request refused', { route: routeKey(event), statusCode: err.statusCode, code: err.code, reason: err.message });
      } else {
        logger.error('request failed', { route: routeKey(event), error: err as Error });
      }
      return toErrorResponse(err, requestId);
    }
  };
}

/** Dispatch for functions that serve several routes: keyed by `METHOD /resource/{template}`. */
export function routeKey(event: Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource'>): string {
  return `${event.httpMethod.toUpperCase()} ${event.resource}`;
}
