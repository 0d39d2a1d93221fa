import type { z } from 'zod';
import type { HealthReport } from '../../shared/domain/health';
import type { entitlementView } from '../../shared/domain/entitlement-view';
import type { Feature, publicPlan } from '../../shared/domain/catalogue';
import type { TokenSummary, UserTokenStatus } from '../../shared/domain/token-views';
import type { AddResponse, ConsumeResponse } from '../../shared/domain/token-writes';
import type { ApiUsage } from '../../shared/domain/usage';
import { buildOpenApiDocument, pathParams, routeSchemaKey, type OpenApiDocument } from '../../shared/http/openapi';
import { errorBody } from '../../shared/http/response';
import { ROUTE_SCHEMAS, type RouteSchemas } from '../../shared/http/route-schemas';
import * as s from '../../shared/http/schemas';
import { ROUTES, type RouteAuth } from '../../shared/routes';
import type { PremiumAnswer } from '../../shared/use-cases/premium-check';

/**
 * The OpenAPI document against the route manifest: every route has schemas
 * and every schema entry a route, the document is structurally valid, and
 * the response schemas have the domain's types (checked by the compiler).
 */

// Compile-time drift check: the response schemas and the types the handlers answer with are the same types.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTypes: [
  Same<z.infer<typeof s.userStatusResponse>, UserTokenStatus>,
  Same<z.infer<typeof s.tokenSummarySchema>, TokenSummary>,
  Same<z.infer<typeof s.publicTierSchema>, ReturnType<typeof publicPlan>>,
  Same<z.infer<typeof s.featureSchema>, Feature>,
  Same<z.infer<typeof s.premiumCheckResponse>, PremiumAnswer>,
  Same<z.infer<typeof s.apiUsageSchema>, ApiUsage>,
  Same<z.infer<typeof s.consumeResponse>, ConsumeResponse>,
  Same<z.infer<typeof s.addResponse>, AddResponse>,
  Same<z.infer<typeof s.healthResponse>, Omit<HealthReport, 'httpStatus'>>,
  Same<Omit<z.infer<typeof s.entitlementsResponse>, 'usage'>, ReturnType<typeof entitlementView>>,
] = [true, true, true, true, true, true, true, true, true, true];

const ALLOWED_ERRORS = [400, 401, 402, 403, 404, 409, 413, 429, 500, 503];
const SECURITY: Record<RouteAuth, string | undefined> = {
  none: undefined,
  cognito: 'CognitoAccessToken',
  'api-key': 'InternalApiKey',
  'stripe-signature': 'StripeSignature',
  'kofi-token': undefined,
};

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => collectRefs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), doc);
}

describe('OpenAPI document', () => {
  const doc: OpenApiDocument = buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS);

  it('has the domain types in its response schemas (compile-time check)', () => {
    expect(sameTypes.every(Boolean)).toBe(true);
  });

  it('has a schema entry for every route in the manifest, and a route for every entry', () => {
    const routeKeys = ROUTES.map(routeSchemaKey).sort();
    expect(Object.keys(ROUTE_SCHEMAS).sort()).toEqual(routeKeys);
  });

  it('refuses to build when a route has no schemas (drift fails loudly)', () => {
    const { ['GET /v1/tiers']: _dropped, ...rest } = ROUTE_SCHEMAS;
    expect(() => buildOpenApiDocument(ROUTES, rest)).toThrow(/No schemas registered for GET \/v1\/tiers/);
  });

  it('declares exactly the path parameters of each template, in the schema and in the document', () => {
    for (const route of ROUTES) {
      const entry = ROUTE_SCHEMAS[routeSchemaKey(route)] as RouteSchemas;
      const params = pathParams(route.path).sort();
      expect(Object.keys(entry.path?.shape ?? {}).sort()).toEqual(params);
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      const declared = (op?.parameters ?? []).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort()).toEqual(params);
      for (const p of declared) expect(p.required).toBe(true);
    }
  });

  it('is an OpenAPI 3.1 document with one operation per route', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(ROUTES.map(routeSchemaKey).sort());
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const path of Object.keys(doc.paths)) expect(path.startsWith('/')).toBe(true);
  });

  it('resolves every $ref', () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(ROUTES.length);
    for (const ref of refs) expect({ ref, found: resolvePointer(doc, ref) !== undefined }).toEqual({ ref, found: true });
    // and carries no schema nobody uses
    const used = new Set(refs.filter((r) => r.startsWith('#/components/schemas/')).map((r) => r.split('/').pop()));
    expect(Object.keys(doc.components.schemas).filter((n) => !used.has(n))).toEqual([]);
  });

  it('puts the security scheme of the route auth on each operation', () => {
    for (const route of ROUTES) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      const scheme = SECURITY[route.auth];
      expect(op?.security).toEqual(scheme ? [{ [scheme]: [] }] : []);
      if (scheme) expect(doc.components.securitySchemes[scheme]).toBeDefined();
    }
    expect(doc.components.securitySchemes.InternalApiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    expect(doc.components.securitySchemes.CognitoAccessToken).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(doc.components.securitySchemes.StripeSignature).toMatchObject({ type: 'apiKey', in: 'header', name: 'Stripe-Signature' });
  });

  it('gives every operation a success response and only contract error statuses', () => {
    for (const route of ROUTES) {
      const entry = ROUTE_SCHEMAS[routeSchemaKey(route)] as RouteSchemas;
      const statuses = Object.keys(doc.paths[route.path]?.[route.method.toLowerCase()]?.responses ?? {}).map(Number);
      expect(statuses.some((st) => st >= 200 && st < 300)).toBe(true);
      for (const st of statuses.filter((x) => x >= 400)) expect(ALLOWED_ERRORS).toContain(st);
      // Every route can fail: 500 at least. Authenticated routes can refuse: 401.
      expect(statuses).toContain(500);
      if (route.auth === 'api-key' || route.auth === 'cognito' || route.auth === 'kofi-token') expect(statuses).toContain(401);
      if (entry.body) expect(statuses).toEqual(expect.arrayContaining([400, 413]));
    }
  });

  it('documents a request body exactly for the routes that take one, and the examples pass the handlers’ schemas', () => {
    for (const route of ROUTES) {
      const key = routeSchemaKey(route);
      const entry = ROUTE_SCHEMAS[key] as RouteSchemas;
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(op?.requestBody !== undefined).toBe(entry.body !== undefined);
      if (entry.body) {
        expect({ key, example: entry.example?.body !== undefined }).toEqual({ key, example: true });
        const parsed = entry.body.schema.safeParse(entry.example?.body);
        expect({ key, issues: parsed.error?.issues ?? [] }).toEqual({ key, issues: [] });
      }
      if (entry.path) expect(entry.path.safeParse(entry.example?.path).success).toBe(true);
    }
  });

  it('documents the schemas the handlers validate with (the same objects)', () => {
    const body = (key: string) => ROUTE_SCHEMAS[key]?.body?.schema;
    expect(body('POST /v1/premium/check')).toBe(s.premiumCheckBody);
    expect(body('POST /v1/users/{userId}/tokens/consume')).toBe(s.consumeBody);
    expect(body('POST /me/tokens/consume')).toBe(s.consumeBody);
    expect(body('POST /v1/users/{userId}/tokens/add')).toBe(s.addBody);
    expect(body('PUT /v1/users/{userId}/tier')).toBe(s.tierBody);
    expect(body('POST /me/checkout')).toBe(s.checkoutBody);
    expect(body('POST /v1/api-keys/verify')).toBe(s.verifyApiKeyBody);
    // A refusal the schema makes is in the document too (here: the token amount's bounds).
    const amount = (doc.components.schemas.ConsumeTokensRequest as { properties: Record<string, unknown> }).properties.amount;
    expect(amount).toMatchObject({ type: 'integer', minimum: 1, maximum: 1_000_000 });
    expect(s.consumeBody.safeParse({ amount: 1.5, idempotencyKey: 'k' }).success).toBe(false);
  });

  it('describes the error body the mapper writes', () => {
    expect(s.errorResponse.safeParse(errorBody('insufficient_tokens', 'Not enough tokens', { remaining: 0 })).success).toBe(true);
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error'] });
  });
});
