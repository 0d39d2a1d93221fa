import type { APIGatewayProxyEvent } from 'aws-lambda';
import { z } from 'zod';
import { PayloadTooLargeError, ValidationError } from '../../shared/http/errors';
import { MAX_BODY_BYTES, header, parseJsonBody, parsePathParameters, parseQuery, rawBody } from '../../shared/http/request';

function event(partial: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return { headers: {}, body: null, isBase64Encoded: false, pathParameters: null, queryStringParameters: null, ...partial } as APIGatewayProxyEvent;
}

const consume = z.object({ amount: z.number().int().positive(), idempotencyKey: z.string().min(1) });

describe('request parsing', () => {
  it('looks headers up case-insensitively', () => {
    expect(header(event({ headers: { 'X-Api-Key': 'k' } }), 'x-api-key')).toBe('k');
    expect(header(event({ headers: {} }), 'x-api-key')).toBeUndefined();
  });

  it('parses a valid JSON body', () => {
    expect(parseJsonBody(event({ body: '{"amount":3,"idempotencyKey":"a"}' }), consume)).toEqual({ amount: 3, idempotencyKey: 'a' });
  });

  it('decodes a base64 body from API Gateway', () => {
    const body = Buffer.from('{"amount":1,"idempotencyKey":"b"}').toString('base64');
    expect(parseJsonBody(event({ body, isBase64Encoded: true }), consume)).toEqual({ amount: 1, idempotencyKey: 'b' });
  });

  it('says which field is wrong', () => {
    expect(() => parseJsonBody(event({ body: '{"amount":-1,"idempotencyKey":"a"}' }), consume)).toThrow(/^amount: /);
    expect(() => parseJsonBody(event({ body: '{"amount":1}' }), consume)).toThrow(/idempotencyKey/);
  });

  it('refuses malformed JSON, an empty body and a non-JSON content type with 400', () => {
    for (const e of [
      event({ body: '{"amount":' }),
      event({ body: '' }),
      event({ body: '{"amount":1,"idempotencyKey":"a"}', headers: { 'Content-Type': 'text/plain' } }),
    ]) {
      let error: unknown;
      try {
        parseJsonBody(e, consume);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).statusCode).toBe(400);
    }
  });

  it('accepts JSON content types with parameters and +json suffixes', () => {
    for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      expect(parseJsonBody(event({ body: '{"amount":1,"idempotencyKey":"a"}', headers: { 'content-type': type } }), consume).amount).toBe(1);
    }
  });

  it('refuses bodies over the limit with 413 before parsing them', () => {
    const big = JSON.stringify({ amount: 1, idempotencyKey: 'x'.repeat(MAX_BODY_BYTES) });
    expect(() => parseJsonBody(event({ body: big }), consume)).toThrow(PayloadTooLargeError);
    expect(() => rawBody(event({ body: 'x'.repeat(11) }), 10)).toThrow(/limit is 10/);
  });

  it('validates path and query parameters', () => {
    const path = z.object({ userId: z.string().uuid() });
    expect(() => parsePathParameters(event({ pathParameters: { userId: 'nope' } }), path)).toThrow(/userId/);
    expect(parseQuery(event({ queryStringParameters: { limit: '5' } }), z.object({ limit: z.coerce.number() }))).toEqual({ limit: 5 });
  });
});
