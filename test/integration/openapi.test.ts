import { buildOpenApiDocument } from '../../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../../shared/http/route-schemas';
import { errorResponse } from '../../shared/http/schemas';
import { ROUTES } from '../../shared/routes';
import { api, localStack } from '../fixtures/stack';

/** The success schema the document gives a route (the registry the document is built from). */
function documented(key: string, status: number) {
  const schema = ROUTE_SCHEMAS[key]?.responses[status]?.schema;
  if (!schema) throw new Error(`no documented ${status} for ${key}`);
  return schema;
}

function conforms(schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: unknown[] } } }, body: unknown) {
  const result = schema.safeParse(body);
  return result.success ? [] : result.error?.issues;
}

describe('API documentation on the local gateway', () => {
  it('serves the generated OpenAPI 3.1 document at /openapi.json', async () => {
    const res = await api('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const { gatewayUrl } = localStack();
    expect(res.body).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS, { servers: [{ url: gatewayUrl, description: 'local stack' }] }))));
    expect(res.body.openapi).toBe('3.1.0');
    for (const route of ROUTES) expect(res.body.paths[route.path][route.method.toLowerCase()]).toBeDefined();
  });

  it('serves a self-contained docs page at /docs', async () => {
    const res = await api('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = res.body as string;
    expect(html).toContain('/openapi.json');
    expect(html).not.toContain('<script');
    for (const route of ROUTES) expect(html).toContain(`<code>${route.path}</code>`);
  });

  it('answers HEAD without a body and leaves other methods to the API (contract 404)', async () => {
    const head = await api('/openapi.json', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    const post = await api('/docs', { method: 'POST', json: {} });
    expect(post.status).toBe(404);
    expect(conforms(errorResponse, post.body)).toEqual([]);
  });
});

describe('live answers match the documented schemas', () => {
  const key = () => ({ 'x-api-key': localStack().internalApiKey });

  it('GET /v1/health and GET /v1/tiers', async () => {
    const health = await api('/v1/health');
    expect(conforms(documented('GET /v1/health', 200), health.body)).toEqual([]);
    const tiers = await api('/v1/tiers');
    expect(conforms(documented('GET /v1/tiers', 200), tiers.body)).toEqual([]);
  });

  it('POST /v1/premium/check, its 400 and its 401', async () => {
    const ok = await api('/v1/premium/check', { method: 'POST', headers: key(), json: { email: 'nobody@example.com' } });
    expect(ok.status).toBe(200);
    expect(conforms(documented('POST /v1/premium/check', 200), ok.body)).toEqual([]);
    const bad = await api('/v1/premium/check', { method: 'POST', headers: key(), json: { email: 'not an email' } });
    expect(bad.status).toBe(400);
    expect(conforms(errorResponse, bad.body)).toEqual([]);
    const anon = await api('/v1/premium/check', { method: 'POST', json: { email: 'nobody@example.com' } });
    expect(anon.status).toBe(401);
    expect(conforms(errorResponse, anon.body)).toEqual([]);
  });

  it("GET /v1/users/{userId}/status for the demo user", async () => {
    const demo = localStack().demoUser;
    if (!demo || !('userId' in demo)) throw new Error(`demo user not seeded: ${JSON.stringify(demo)}`);
    const res = await api(`/v1/users/${encodeURIComponent(demo.userId)}/status`, { headers: key() });
    expect(res.status).toBe(200);
    expect(conforms(documented('GET /v1/users/{userId}/status', 200), res.body)).toEqual([]);
  });
});
