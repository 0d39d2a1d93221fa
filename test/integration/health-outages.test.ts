import { createServer, type Server } from 'node:net';
import { apiEvent, closeLoadedHandlers, loadHandler, noContext } from '../fixtures/handlers';

/** A port that accepts connections and never answers: the slow-dependency case. */
async function blackHole(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { url: `127.0.0.1:${address.port}`, server };
}

async function closedPort(): Promise<number> {
  const { server } = await blackHole();
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

const healthEvent = () => apiEvent({ resource: '/v1/health', httpMethod: 'GET' });

describe('health when dependencies fail', () => {
  afterAll(closeLoadedHandlers);

  it('is degraded, quickly, when Redis refuses connections', async () => {
    const handler = loadHandler('health', { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    const started = Date.now();
    const res = await handler(healthEvent(), noContext);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'degraded', checks: { dynamodb: 'ok', redis: 'down' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('is degraded within its timeout when Redis accepts but never answers', async () => {
    const hole = await blackHole();
    try {
      const handler = loadHandler('health', { REDIS_URL: `redis://${hole.url}` });
      const started = Date.now();
      const res = await handler(healthEvent(), noContext);
      expect(JSON.parse(res.body)).toMatchObject({ status: 'degraded', checks: { redis: 'down', dynamodb: 'ok' } });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      hole.server.close();
    }
  });

  it('is 503 with the contract error body when DynamoDB is unreachable', async () => {
    const hole = await blackHole();
    try {
      const handler = loadHandler('health', { DYNAMODB_ENDPOINT: `http://${hole.url}` });
      const started = Date.now();
      const res = await handler(healthEvent(), noContext);
      expect(res.statusCode).toBe(503);
      const body = JSON.parse(res.body);
      expect(body).toMatchObject({ status: 'down', checks: { dynamodb: 'down', redis: 'ok' } });
      expect(body.error).toEqual({ code: 'dependency_unavailable', message: expect.any(String) });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      hole.server.close();
    }
  });

  it('reports the cache as disabled, and the service degraded, when run without Redis', async () => {
    const handler = loadHandler('health', { REDIS_DISABLED: 'true' });
    const res = await handler(healthEvent(), noContext);
    expect(JSON.parse(res.body)).toEqual({ status: 'degraded', checks: { dynamodb: 'ok', redis: 'disabled' } });
  });
});
