import type { APIGatewayProxyResult } from 'aws-lambda';
import { AppError, GENERIC_503_MESSAGE, GENERIC_5XX_MESSAGE } from './errors';

export interface ErrorBody {
  error: { code: string; message: string } & Record<string, unknown>;
}

const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
} as const;

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { ...details, code, message } };
}

/**
 * The one error -> response mapper. Typed errors below 500 show their message;
 * everything else (including unknown throwables) becomes a generic body.
 */
export function toErrorResponse(err: unknown, requestId?: string): APIGatewayProxyResult {
  const extra: Record<string, string> = requestId ? { 'x-request-id': requestId } : {};
  if (err instanceof AppError) {
    if (err.expose) {
      return jsonResponse(err.statusCode, errorBody(err.code, err.message, err.details), { ...err.headers, ...extra });
    }
    const message = err.statusCode === 503 ? GENERIC_503_MESSAGE : GENERIC_5XX_MESSAGE;
    return jsonResponse(err.statusCode, errorBody(err.code, message), { ...err.headers, ...extra });
  }
  return jsonResponse(500, errorBody('internal_error', GENERIC_5XX_MESSAGE), extra);
}
