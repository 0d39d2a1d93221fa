import { resolve } from 'node:path';
import { coldStartEnv } from '../../bench/cold-start-env';
import { TABLE_LIST } from '../../shared/adapters/dynamodb/tables';
import { FUNCTIONS, handlerEntry } from '../../shared/routes';

/**
 * The cold-start bench loads every function's bundle with coldStartEnv; a
 * function whose configuration needs a variable that environment lacks
 * refuses to load, and the bench used to find out half-way through
 * `npm run bench` (kofi-webhook, entitlement-events). Here every handler
 * module is imported with that same environment, as its bundle is: a
 * ConfigError names the missing variable. The table names come from the shared
 * table definitions, as the bench's own (bench/run.ts, createTables) do.
 * Redis is switched off only so that nothing connects: it changes the Redis
 * section alone, which the bench environment always satisfies (REDIS_URL).
 */
const baseline = { ...process.env };
const benchEnv = coldStartEnv({
  env: { AWS_REGION: 'us-east-1', ...Object.fromEntries(TABLE_LIST.map((t) => [t.envVar, `bench-${t.id}`])) },
  redisUrl: 'redis://127.0.0.1:6379',
  internalApiKey: 'bench-key',
  repoRoot: resolve(__dirname, '../..'),
  nodeOptions: '',
});

afterEach(() => {
  process.env = { ...baseline };
});

describe('the cold-start bench environment', () => {
  it.each(Object.keys(FUNCTIONS))('loads the %s handler module', (name) => {
    process.env = { ...baseline, ...benchEnv, REDIS_DISABLED: 'true' };
    let mod: { handler?: unknown } = {};
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- after the environment above, as a cold start
      mod = require(resolve(__dirname, '../..', handlerEntry(name as keyof typeof FUNCTIONS))) as { handler?: unknown };
    });
    expect(typeof mod.handler).toBe('function');
  });
});
