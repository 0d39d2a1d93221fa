import { countMetric, flushMetrics, metrics } from '../../shared/observability/metrics';

describe('business metrics', () => {
  let published: Array<Record<string, unknown>>;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    published = [];
    // What would be one EMF line: the stored metrics at publish time.
    spy = jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => {
      published.push(JSON.parse(JSON.stringify(metrics.serializeMetrics())) as Record<string, unknown>);
      metrics.clearMetrics();
      return metrics;
    });
  });
  afterEach(() => spy.mockRestore());

  const namesIn = (line: Record<string, unknown>) => Object.keys(line).filter((k) => /^[A-Z]/.test(k) && typeof line[k] === 'number');

  it("publishes an invocation's counts once, at its flush, and nothing when nothing was counted", () => {
    countMetric('TokensConsumed', 3);
    countMetric('InsufficientTokens');
    flushMetrics();
    flushMetrics();
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ TokensConsumed: 3, InsufficientTokens: 1 });
  });

  it('sums cache hits and misses in memory and publishes them at most once a minute, or with the next line that is published anyway', () => {
    // A window that starts now (a flush past the minute publishes and starts the next one).
    const start = Date.now() + 120_000;
    countMetric('CacheMiss');
    flushMetrics(start);
    published.length = 0;
    for (let i = 0; i < 5; i++) countMetric('CacheHit');
    countMetric('CacheMiss');
    flushMetrics(start + 1_000);
    expect(published).toHaveLength(0);
    flushMetrics(start + 61_000);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ CacheHit: 5, CacheMiss: 1 });
    countMetric('CacheHit');
    countMetric('WebhookApplied');
    flushMetrics(start + 62_000);
    expect(namesIn(published[1]!).sort()).toEqual(['CacheHit', 'WebhookApplied']);
  });
});
