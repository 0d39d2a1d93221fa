/**
 * The Redis commands the adapters use, and nothing more: the cache, the rate
 * limiter and the health probe depend on this, not on a client library, so a
 * unit test passes a plain fake and the client behind it can change.
 * resp-client.ts is the implementation.
 */
export interface RedisConnection {
  /** `ready` = connected and authenticated; `end` = closed for good (quit/disconnect, or reconnecting turned off). */
  readonly status: 'connecting' | 'ready' | 'reconnecting' | 'end';
  get(key: string): Promise<string | null>;
  /** SET, with an optional expiry in milliseconds (PX). */
  set(key: string, value: string, expiry?: 'PX', ms?: number): Promise<'OK' | null>;
  del(...keys: string[]): Promise<number>;
  pttl(key: string): Promise<number>;
  /** EVAL: the Lua script runs atomically on the server; a Lua table comes back as a (nested) array. */
  eval(script: string, numKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown>;
  ping(): Promise<string>;
  /** Sends QUIT after whatever is in flight, then closes; no reconnect. */
  quit(): Promise<void>;
  /** Closes at once, failing whatever is pending; no reconnect. */
  disconnect(): void;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'ready' | 'end', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'ready' | 'end', listener: () => void): this;
}
