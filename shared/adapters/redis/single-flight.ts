/**
 * Collapses concurrent calls for the same key into one: while a call for
 * `key` is in flight, later callers get the same promise instead of starting
 * their own. Once it settles the key is free again, so nothing is memoised
 * beyond the burst (a failure is shared by the burst, then forgotten).
 */
export class SingleFlight {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  run<T>(key: string, call: () => Promise<T>): Promise<T> {
    const existing = this.inFlight.get(key);
    if (existing) return existing as Promise<T>;
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (err) {
      return Promise.reject(err);
    }
    const settled = pending.finally(() => {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    });
    this.inFlight.set(key, settled);
    return settled;
  }

  /** Calls in flight now (for tests and diagnostics). */
  get size(): number {
    return this.inFlight.size;
  }
}
