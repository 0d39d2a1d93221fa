import { request } from 'node:http';
import { api, localStack } from '../fixtures/stack';

describe('GET /v1/health through the local gateway', () => {
  it('answers ok with both dependencies up', async () => {
    const res = await api('/v1/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { dynamodb: 'ok', redis: 'ok' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
  });
});

describe('GET /v1/tiers', () => {
  it('serves the catalogue without authentication', async () => {
    const res = await api('/v1/tiers');
    expect(res.status).toBe(200);
    const tiers = res.body.tiers as Array<{ name: string; monthlyTokens: number | null; features: string[]; stripePriceIds: string[] }>;
    expect(tiers.map((t) => t.name)).toEqual(['free', 'tester', 'basic', 'pro', 'enterprise', 'admin']);
    expect(tiers.find((t) => t.name === 'admin')?.monthlyTokens).toBeNull();
    for (const tier of tiers) {
      expect(Array.isArray(tier.features)).toBe(true);
      expect(Array.isArray(tier.stripePriceIds)).toBe(true);
    }
  });
});

describe('bad requests get the contract error body', () => {
  it('404 for an unknown route', async () => {
    const res = await api('/v1/does-not-exist');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('405 with Allow for a wrong method', async () => {
    const res = await api('/v1/tiers', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.body.error.code).toBe('method_not_allowed');
  });

  it('413 for a body over the API limit, without calling the handler', async () => {
    const { gatewayUrl } = localStack();
    const url = new URL('/v1/health', gatewayUrl);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      for (let i = 0; i < 11; i++) req.write(chunk);
      req.end();
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body)).toEqual({ error: { code: 'payload_too_large', message: expect.any(String) } });
  });

  it('404 for a path with a malformed escape', async () => {
    const res = await api('/v1/%E0%A4%A');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
