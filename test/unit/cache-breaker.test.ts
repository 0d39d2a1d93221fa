import { CircuitBreaker, CircuitOpenError, type BreakerState } from '../../shared/adapters/redis/circuit-breaker';

describe('CircuitBreaker', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const breaker = (transitions: Array<[BreakerState, BreakerState]> = []) =>
    new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, onStateChange: (to, from) => transitions.push([from, to]) });
  const failing = () => Promise.reject(new Error('redis timed out'));

  it('stays closed below the threshold, and a success resets the count', async () => {
    // Arrange
    const b = breaker();
    // Act
    await expect(b.execute(failing)).rejects.toThrow('redis timed out');
    await expect(b.execute(failing)).rejects.toThrow('redis timed out');
    await expect(b.execute(async () => 'ok')).resolves.toBe('ok');
    await expect(b.execute(failing)).rejects.toThrow('redis timed out');
    await expect(b.execute(failing)).rejects.toThrow('redis timed out');
    // Assert
    expect(b.state).toBe('closed');
    expect(b.consecutiveFailures).toBe(2);
  });

  it('opens after N consecutive failures and then refuses calls without making them', async () => {
    const transitions: Array<[BreakerState, BreakerState]> = [];
    const b = breaker(transitions);
    for (let i = 0; i < 3; i += 1) await expect(b.execute(failing)).rejects.toThrow('redis timed out');

    const call = jest.fn(async () => 'never');
    await expect(b.execute(call)).rejects.toBeInstanceOf(CircuitOpenError);

    expect(call).not.toHaveBeenCalled();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    expect(transitions).toEqual([['closed', 'open']]);
  });

  it('lets exactly one probe through after the cooldown, and closes when it succeeds', async () => {
    const transitions: Array<[BreakerState, BreakerState]> = [];
    const b = breaker(transitions);
    for (let i = 0; i < 3; i += 1) b.recordFailure();

    jest.advanceTimersByTime(999);
    expect(b.state).toBe('open');
    jest.advanceTimersByTime(1);
    expect(b.state).toBe('half-open');

    let finishProbe!: (v: string) => void;
    const probe = b.execute(() => new Promise<string>((resolve) => (finishProbe = resolve)));
    // While the probe is out, everyone else is refused.
    await expect(b.execute(async () => 'second')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(b.tryAcquire()).toBe(false);
    finishProbe('pong');
    await expect(probe).resolves.toBe('pong');

    expect(b.state).toBe('closed');
    await expect(b.execute(async () => 'after')).resolves.toBe('after');
    expect(transitions).toEqual([
      ['closed', 'open'],
      ['open', 'half-open'],
      ['half-open', 'closed'],
    ]);
  });

  it('opens again for a full cooldown when the probe fails', async () => {
    const b = breaker();
    for (let i = 0; i < 3; i += 1) b.recordFailure();
    jest.advanceTimersByTime(1000);

    await expect(b.execute(failing)).rejects.toThrow('redis timed out');

    expect(b.state).toBe('open');
    jest.advanceTimersByTime(999);
    expect(b.tryAcquire()).toBe(false);
    jest.advanceTimersByTime(1);
    expect(b.tryAcquire()).toBe(true);
  });

  it('counts a call that throws synchronously as a failure', async () => {
    const b = breaker();
    const throwsSync = (): Promise<never> => {
      throw new Error('not connected');
    };
    for (let i = 0; i < 3; i += 1) await expect(b.execute(throwsSync)).rejects.toThrow('not connected');
    expect(b.state).toBe('open');
  });

  it('ignores failures reported by stragglers while it is open', () => {
    const b = breaker();
    for (let i = 0; i < 3; i += 1) b.recordFailure();
    jest.advanceTimersByTime(600);
    b.recordFailure(); // a call started before the breaker opened
    jest.advanceTimersByTime(400);
    expect(b.state).toBe('half-open');
  });

  it('refuses nonsense settings', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, cooldownMs: 1 })).toThrow(/failureThreshold/);
    expect(() => new CircuitBreaker({ failureThreshold: 1, cooldownMs: -1 })).toThrow(/cooldownMs/);
  });
});
