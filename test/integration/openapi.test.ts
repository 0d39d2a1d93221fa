import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
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

/** A GET with the path exactly as written (fetch would resolve `..` before sending it). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(localStack().gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
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

  it('serves Swagger UI at /docs, every file from the gateway (no CDN)', async () => {
    const res = await api('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    // The browser may load nothing from elsewhere, whatever the page asks for.
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('content-security-policy')).toMatch(/connect-src 'self'/);
    const html = res.body as string;
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const loaded = [...html.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1] as string);
    expect(loaded).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/swagger-initializer.js']));
    for (const path of loaded) {
      const asset = await fetch(`${localStack().gatewayUrl}${path}`);
      expect({ path, status: asset.status }).toEqual({ path, status: 200 });
      const type = asset.headers.get('content-type');
      const expected = path.endsWith('.css') ? /^text\/css/ : path.endsWith('.js') ? /^text\/javascript/ : path.endsWith('.png') ? /^image\/png$/ : /^application\/json/;
      expect({ path, type }).toEqual({ path, type: expect.stringMatching(expected) });
      expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const slash = await api('/docs/');
    expect(slash.status).toBe(200);
    expect(slash.body).toBe(html);
  });

  it('serves the Swagger UI files from its npm package, byte for byte', async () => {
    const dir = dirname(require.resolve('swagger-ui-dist/package.json'));
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']) {
      const res = await fetch(`${localStack().gatewayUrl}/docs/${file}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(dir, file)))).toBe(true);
    }
  });

  it('serves only its fixed list of files: other names and traversal attempts are the contract 404', async () => {
    const attempts = [
      '/docs/../package.json',
      '/docs/%2e%2e/package.json',
      '/docs/..%2f..%2fpackage.json',
      '/docs/%2e%2e%2f%2e%2e%2fpackage.json',
      '/docs//etc/passwd',
      '/docs/index.html',
      '/docs/swagger-ui.js',
      '/docs/package.json',
      '/docs/swagger-ui-dist/package.json',
      '/docs/swagger-ui-bundle.js/',
      '/docs/SWAGGER-UI.CSS',
      '/node_modules/swagger-ui-dist/swagger-ui.css',
    ];
    for (const path of attempts) {
      const res = await rawGet(path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(conforms(errorResponse, JSON.parse(res.body))).toEqual([]);
    }
  });

  it('answers HEAD without a body and leaves other methods to the API (contract 404)', async () => {
    const head = await api('/openapi.json', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    const post = await api('/docs', { method: 'POST', json: {} });
    expect(post.status).toBe(404);
    expect(conforms(errorResponse, post.body)).toEqual([]);
    const headAsset = await api('/docs/swagger-ui-bundle.js', { method: 'HEAD' });
    expect(headAsset.status).toBe(200);
    expect(Number(headAsset.headers.get('content-length'))).toBeGreaterThan(100_000);
    expect(headAsset.body).toBeNull();
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
