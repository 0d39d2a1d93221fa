import { SingleFlight } from '../../shared/adapters/redis/single-flight';

describe('SingleFlight', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const slow = <T>(value: T, ms: number) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

  it('makes one call for a burst on one key and gives everyone its result', async () => {
    // Arrange
    const flights = new SingleFlight();
    const load = jest.fn(() => slow('row', 50));
    // Act
    const burst = Array.from({ length: 500 }, () => flights.run('premium:v1:a@example.com', load));
    expect(flights.size).toBe(1);
    await jest.advanceTimersByTimeAsync(50);
    const results = await Promise.all(burst);
    // Assert
    expect(load).toHaveBeenCalledTimes(1);
    expect(new Set(results)).toEqual(new Set(['row']));
    expect(flights.size).toBe(0);
  });

  it('keeps keys apart', async () => {
    const flights = new SingleFlight();
    const load = jest.fn((v: string) => slow(v, 10));
    const a = flights.run('a', () => load('A'));
    const b = flights.run('b', () => load('B'));
    await jest.advanceTimersByTimeAsync(10);
    await expect(Promise.all([a, b])).resolves.toEqual(['A', 'B']);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('memoises nothing once the call settles', async () => {
    const flights = new SingleFlight();
    const load = jest.fn(() => slow('v', 10));
    const first = flights.run('k', load);
    await jest.advanceTimersByTimeAsync(10);
    await first;
    const second = flights.run('k', load);
    await jest.advanceTimersByTimeAsync(10);
    await second;
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('shares a failure with the burst, then forgets it', async () => {
    const flights = new SingleFlight();
    const load = jest.fn(() => new Promise<string>((_, reject) => setTimeout(() => reject(new Error('dynamodb down')), 10)));
    const burst = [flights.run('k', load), flights.run('k', load)];
    const settled = Promise.allSettled(burst);
    await jest.advanceTimersByTimeAsync(10);
    const outcomes = await settled;
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(load).toHaveBeenCalledTimes(1);

    const retry = flights.run('k', async () => 'recovered');
    await expect(retry).resolves.toBe('recovered');
  });

  it('turns a synchronous throw into a rejection without leaving the key busy', async () => {
    const flights = new SingleFlight();
    await expect(
      flights.run('k', () => {
        throw new Error('bad loader');
      }),
    ).rejects.toThrow('bad loader');
    expect(flights.size).toBe(0);
  });
});
