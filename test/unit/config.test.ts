import { ConfigError, awsSection, internalKeysSection, loadConfig, redisSection, tablesSection } from '../../shared/config';

const tables = {
  TABLE_USERS: 'u',
  TABLE_ENTITLEMENTS: 'e',
  TABLE_LEDGER: 'l',
  TABLE_IDEMPOTENCY: 'i',
  TABLE_API_KEYS: 'k',
  TABLE_EMAIL_OWNERS: 'o',
  TABLE_KOFI: 'k',
};

describe('loadConfig', () => {
  it('parses every section from one environment', () => {
    const config = loadConfig({ aws: awsSection, tables: tablesSection }, { AWS_REGION: 'eu-west-1', ...tables });
    expect(config.aws.AWS_REGION).toBe('eu-west-1');
    expect(config.tables.TABLE_LEDGER).toBe('l');
  });

  it('names every missing variable at once', () => {
    const { TABLE_LEDGER: _l, TABLE_USERS: _u, ...partial } = tables;
    let error: unknown;
    try {
      loadConfig({ aws: awsSection, tables: tablesSection }, { ...partial });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('AWS_REGION is required but not set');
    expect(message).toContain('TABLE_USERS is required but not set');
    expect(message).toContain('TABLE_LEDGER is required but not set');
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('treats an empty table name as missing, never as a default', () => {
    expect(() => loadConfig({ tables: tablesSection }, { ...tables, TABLE_USERS: '  ' })).toThrow(/TABLE_USERS/);
  });

  it('requires a Redis URL unless the cache is disabled', () => {
    expect(() => loadConfig({ redis: redisSection }, {})).toThrow(/REDIS_URL is required unless REDIS_DISABLED=true/);
    expect(loadConfig({ redis: redisSection }, { REDIS_DISABLED: 'true' }).redis.REDIS_DISABLED).toBe(true);
    const c = loadConfig({ redis: redisSection }, { REDIS_URL: 'rediss://cache.example:6379' }).redis;
    expect(c).toMatchObject({ REDIS_URL: 'rediss://cache.example:6379', REDIS_DISABLED: false, REDIS_COMMAND_TIMEOUT_MS: 50 });
  });

  it('refuses a malformed Redis URL, naming it', () => {
    expect(() => loadConfig({ redis: redisSection }, { REDIS_URL: 'http://nope' })).toThrow(/REDIS_URL: must be a redis/);
  });

  it('requires the internal API keys from Secrets Manager or, locally, the environment', () => {
    expect(() => loadConfig({ keys: internalKeysSection }, {})).toThrow(/INTERNAL_API_KEYS_SECRET_ARN/);
    expect(loadConfig({ keys: internalKeysSection }, { INTERNAL_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:x' }).keys.INTERNAL_API_KEYS_SECRET_ARN).toBe(
      'arn:aws:secretsmanager:x',
    );
  });
});
