import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { z } from 'zod';
import { PayloadTooLargeError, ValidationError } from './errors';

/** Request bodies are small JSON documents; anything larger is refused with 413. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Case-insensitive header lookup (API Gateway passes names as the client sent them). */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  // Fast path: most clients (and every HTTP/2 one) send lower-case names.
  const exact = event.headers?.[wanted];
  if (exact !== undefined && exact !== null) return exact;
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The exact body bytes as the client sent them (API Gateway may base64-encode). */
export function rawBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>, maxBytes = MAX_BODY_BYTES): Buffer {
  if (event.body === null || event.body === undefined) return Buffer.alloc(0);
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.length > maxBytes) {
    throw new PayloadTooLargeError(`Request body is ${bytes.length} bytes; the limit is ${maxBytes}`);
  }
  return bytes;
}

function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : where;
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}

function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(describeIssues(result.error, where));
  }
  return result.data;
}

/** Parses and validates a JSON body: 413 when too large, 400 naming the field otherwise. */
export function parseJsonBody<S extends z.ZodType>(event: APIGatewayProxyEvent, schema: S, maxBytes = MAX_BODY_BYTES): z.infer<S> {
  const bytes = rawBody(event, maxBytes);
  const contentType = header(event, 'content-type');
  if (contentType !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType.trim())) {
    throw new ValidationError('Content-Type must be application/json', 'unsupported_media_type');
  }
  if (bytes.length === 0) throw new ValidationError('body: a JSON object is required', 'invalid_json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ValidationError('body: malformed JSON', 'invalid_json');
  }
  return validate(schema, parsed, 'body');
}

export function parsePathParameters<S extends z.ZodType>(event: APIGatewayProxyEvent, schema: S): z.infer<S> {
  return validate(schema, event.pathParameters ?? {}, 'path');
}

export function parseQuery<S extends z.ZodType>(event: APIGatewayProxyEvent, schema: S): z.infer<S> {
  return validate(schema, event.queryStringParameters ?? {}, 'query');
}
