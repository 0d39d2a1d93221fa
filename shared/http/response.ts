import type { APIGatewayProxyResult } from 'aws-lambda';
import { errorPolicy } from './error-policy';
import { GENERIC_503_MESSAGE, GENERIC_5XX_MESSAGE } from './errors';

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
 * The one error -> response renderer. The error policy (./error-policy.ts)
 * picks the HTTP error for any throwable; errors below 500 show their message,
 * 5xx always get a generic body (details go to the logs only).
 */
export function toErrorResponse(err: unknown, requestId?: string): APIGatewayProxyResult {
  const extra: Record<string, string> = requestId ? { 'x-request-id': requestId } : {};
  const http = errorPolicy.toHttpError(err);
  if (http.expose) {
    return jsonResponse(http.statusCode, errorBody(http.code, http.message, http.details), { ...http.headers, ...extra });
  }
  const message = http.statusCode === 503 ? GENERIC_503_MESSAGE : GENERIC_5XX_MESSAGE;
  return jsonResponse(http.statusCode, errorBody(http.code, message), { ...http.headers, ...extra });
}
