import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { COGNITO_TRIGGERS, FUNCTIONS, QUEUE_CONSUMERS, ROUTES, SCHEDULES, STREAM_CONSUMERS, handlerEntry, matchRoute, type FunctionName } from '../../shared/routes';
import { TABLES } from '../../shared/adapters/dynamodb/tables';

const ROOT = join(__dirname, '..', '..');

describe('route manifest', () => {
  it('points every route, trigger, queue, table stream and schedule at a defined function with a handler file', () => {
    const used = new Set<FunctionName>([
      ...ROUTES.map((r) => r.handler),
      ...Object.values(COGNITO_TRIGGERS),
      ...Object.values(QUEUE_CONSUMERS),
      ...Object.values(STREAM_CONSUMERS),
      ...Object.values(SCHEDULES).map((s) => s.handler),
    ]);
    for (const name of used) {
      expect(FUNCTIONS[name]).toBeDefined();
      expect(existsSync(join(ROOT, handlerEntry(name)))).toBe(true);
    }
    // and no function is defined without a way to reach it
    expect(new Set(Object.keys(FUNCTIONS))).toEqual(used);
  });

  it('has one entry per method and path', () => {
    const keys = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('puts the Cognito authorizer on every /me route and on no other', () => {
    for (const route of ROUTES) {
      expect(route.auth === 'cognito').toBe(route.path.startsWith('/me/'));
    }
  });

  it('grants only tables that exist', () => {
    for (const def of Object.values(FUNCTIONS)) {
      for (const table of Object.keys(def.tables)) expect(Object.keys(TABLES)).toContain(table);
    }
  });

  it('serves the contract paths', () => {
    expect(ROUTES).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ method: 'GET', path: '/v1/health', handler: 'health', auth: 'none' }),
        expect.objectContaining({ method: 'GET', path: '/v1/tiers', handler: 'tokens-admin', auth: 'none' }),
      ]),
    );
  });
});

describe('matchRoute', () => {
  it('matches method and path', () => {
    expect(matchRoute('get', '/v1/health').match?.route.handler).toBe('health');
  });

  it('reports the allowed methods when only the method is wrong', () => {
    const result = matchRoute('DELETE', '/v1/tiers');
    expect(result.match).toBeUndefined();
    expect(result.allowed).toEqual(['GET']);
  });

  it('matches nothing for unknown paths, trailing segments and malformed escapes', () => {
    for (const path of ['/v1/nope', '/v1/health/extra', '/v1/healthz', '/', '/v1/%E0%A4%A']) {
      expect(matchRoute('GET', path)).toEqual({ allowed: [] });
    }
  });
});
