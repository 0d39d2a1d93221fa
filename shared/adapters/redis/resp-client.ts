import { EventEmitter } from 'node:events';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { RedisConnection } from './connection';
import { RedisReplyError, RespParser, encodeCommand, type RespValue } from './resp';

/**
 * A small Redis client over one socket, written because ioredis cost ~21 ms
 * of every cold start (README "Decisions") while the adapters use six
 * commands. It keeps what ioredis gave them:
 *
 * - redis:// or rediss:// (TLS, SNI = the host name), AUTH from the options
 *   or the URL (user:password sends `AUTH user pass`), SELECT from the path,
 *   all before any command;
 * - a connect timeout (TCP, TLS and AUTH included) and a per-command timeout
 *   that also bounds the wait of a command issued before the connection is
 *   ready;
 * - pipelining: commands are written as they come and answered FIFO; a
 *   command that timed out keeps its place, so its late reply is read and
 *   dropped and never answers the next command;
 * - connection loss fails the commands in flight (nobody can tell whether
 *   they ran) and reconnects in the background with capped back-off; commands
 *   issued meanwhile wait, for at most `maxRetriesPerRequest` failed attempts;
 * - an `error` event for the log (never thrown when nobody listens), quit()
 *   and disconnect().
 */
export interface RespClientOptions {
  /** AUTH password; overrides the URL's. */
  password?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Failed (re)connection attempts a waiting command sits through before it fails (0 = fail at the first). */
  maxRetriesPerRequest: number;
  /** Delay before reconnection attempt `attempt` (1, 2, ...); null = stop reconnecting. */
  retryDelayMs?: (attempt: number) => number | null;
  /** Extra CA certificate(s) for rediss:// (tests: a self-signed server). Production uses the system's CAs. */
  tlsCa?: string | Buffer;
}

/** The back-off the client has always used: 100 ms, 200 ms, 400 ms, ... capped at 2 s. */
export const cappedBackOff = (attempt: number): number => Math.min(50 * 2 ** attempt, 2000);

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (err: Error) => void;
  /** True once answered, timed out or failed: a late reply is then read and dropped. */
  settled: boolean;
  timer?: NodeJS.Timeout;
}

interface Waiting {
  payload: Buffer;
  pending: Pending;
  /** Failed connection attempts seen while waiting. */
  failedAttempts: number;
}

interface Target {
  tls: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

function parseUrl(url: string): Target {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error(`not a redis:// or rediss:// URL: ${parsed.protocol}`);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    tls: parsed.protocol === 'rediss:',
    // URL keeps IPv6 hosts in brackets; sockets want them bare.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
  };
}

function connectionClosed(): Error {
  return new Error('Connection is closed.');
}

export class RespClient extends EventEmitter implements RedisConnection {
  status: RedisConnection['status'] = 'connecting';
  private readonly target: Target;
  private readonly retryDelayMs: (attempt: number) => number | null;
  private socket: Socket | undefined;
  private readonly parser = new RespParser();
  /** Commands written to the socket, oldest first: replies answer them in this order. */
  private inFlight: Pending[] = [];
  /** Commands issued before the connection was ready. */
  private waiting: Waiting[] = [];
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closedByUs = false;

  constructor(
    url: string,
    private readonly options: RespClientOptions,
  ) {
    super();
    this.target = parseUrl(url);
    if (options.password !== undefined) this.target.password = options.password;
    this.retryDelayMs = options.retryDelayMs ?? cappedBackOff;
    this.open();
  }

  get(key: string): Promise<string | null> {
    return this.command(['GET', key]) as Promise<string | null>;
  }

  set(key: string, value: string, expiry?: 'PX', ms?: number): Promise<'OK' | null> {
    const args = expiry && ms !== undefined ? ['SET', key, value, expiry, ms] : ['SET', key, value];
    return this.command(args) as Promise<'OK' | null>;
  }

  del(...keys: string[]): Promise<number> {
    return this.command(['DEL', ...keys]) as Promise<number>;
  }

  pttl(key: string): Promise<number> {
    return this.command(['PTTL', key]) as Promise<number>;
  }

  eval(script: string, numKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown> {
    return this.command(['EVAL', script, numKeys, ...keysAndArgs]);
  }

  ping(): Promise<string> {
    return this.command(['PING']) as Promise<string>;
  }

  /** Any other command (tests and tools): the reply as parsed. */
  call(...args: Array<string | number>): Promise<RespValue> {
    return this.command(args);
  }

  async quit(): Promise<void> {
    if (this.status === 'end') return;
    if (this.status !== 'ready') {
      this.disconnect();
      return;
    }
    this.closedByUs = true;
    // Written after every command in flight, so those still get their answers.
    const done = this.command(['QUIT']).then(
      () => undefined,
      () => undefined,
    );
    await done;
    this.disconnect();
  }

  disconnect(): void {
    this.closedByUs = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.failInFlight();
    for (const w of this.waiting.splice(0)) this.settle(w.pending, connectionClosed());
    this.end();
  }

  private command(args: ReadonlyArray<string | number>): Promise<RespValue> {
    return new Promise<RespValue>((resolve, reject) => {
      if (this.status === 'end') {
        reject(connectionClosed());
        return;
      }
      const pending: Pending = { resolve, reject, settled: false };
      pending.timer = setTimeout(() => {
        // Still in the queue: it is never sent. Already sent: it keeps its place in inFlight.
        this.waiting = this.waiting.filter((w) => w.pending !== pending);
        this.settle(pending, new Error('Command timed out'));
      }, this.options.commandTimeoutMs);
      const payload = encodeCommand(args);
      if (this.status === 'ready' && this.socket) this.write(payload, pending);
      else this.waiting.push({ payload, pending, failedAttempts: 0 });
    });
  }

  private write(payload: Buffer, pending: Pending): void {
    this.inFlight.push(pending);
    this.socket!.write(payload);
  }

  private settle(pending: Pending, outcome: RespValue | Error): void {
    if (pending.settled) return;
    pending.settled = true;
    if (pending.timer) clearTimeout(pending.timer);
    if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  private open(): void {
    const { host, port, tls } = this.target;
    const socket = tls
      ? connectTls({
          host,
          port,
          // SNI names the host; it is not allowed for an IP address.
          ...(isIP(host) ? {} : { servername: host }),
          ...(this.options.tlsCa ? { ca: this.options.tlsCa } : {}),
        })
      : connectTcp({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    const connectTimer = setTimeout(() => {
      socket.destroy(new Error(`connect ETIMEDOUT after ${this.options.connectTimeoutMs} ms`));
    }, this.options.connectTimeoutMs);

    socket.once(tls ? 'secureConnect' : 'connect', () => {
      this.handshake(socket).then(
        () => {
          clearTimeout(connectTimer);
          if (this.socket !== socket) return;
          this.becomeReady();
        },
        (err: Error) => socket.destroy(err),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      let replies: RespValue[];
      try {
        replies = this.parser.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      for (const reply of replies) {
        const pending = this.inFlight.shift();
        if (!pending) {
          socket.destroy(new Error('reply without a command: the stream is out of step'));
          return;
        }
        this.settle(pending, reply);
      }
    });
    socket.on('error', (err: Error) => this.emitError(err));
    socket.once('close', () => {
      clearTimeout(connectTimer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.onConnectionLost();
    });
  }

  /** AUTH and SELECT, pipelined, before anything else may use the socket. */
  private async handshake(socket: Socket): Promise<void> {
    const { username, password, db } = this.target;
    const steps: Array<Promise<RespValue>> = [];
    const send = (args: ReadonlyArray<string | number>) =>
      new Promise<RespValue>((resolve, reject) => {
        const pending: Pending = { resolve, reject, settled: false };
        this.inFlight.push(pending);
        socket.write(encodeCommand(args));
      });
    if (password !== undefined) steps.push(send(username ? ['AUTH', username, password] : ['AUTH', password]));
    if (db !== undefined) steps.push(send(['SELECT', db]));
    const replies = await Promise.all(steps);
    const failed = replies.find((r) => r instanceof RedisReplyError);
    if (failed) throw failed as RedisReplyError;
  }

  private becomeReady(): void {
    this.attempt = 0;
    this.status = 'ready';
    for (const w of this.waiting.splice(0)) {
      if (!w.pending.settled) this.write(w.payload, w.pending);
    }
    this.emit('ready');
  }

  private onConnectionLost(): void {
    this.parser.reset();
    this.failInFlight();
    if (this.closedByUs) {
      this.end();
      return;
    }
    // Waiting commands sit through a bounded number of failed attempts (their timeout bounds them too).
    this.waiting = this.waiting.filter((w) => {
      w.failedAttempts += 1;
      if (w.failedAttempts <= this.options.maxRetriesPerRequest) return true;
      this.settle(w.pending, new Error('Reached the max retries per request limit while reconnecting'));
      return false;
    });
    this.attempt += 1;
    const delay = this.retryDelayMs(this.attempt);
    if (delay === null) {
      for (const w of this.waiting.splice(0)) this.settle(w.pending, connectionClosed());
      this.end();
      return;
    }
    this.status = 'reconnecting';
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closedByUs) this.open();
    }, delay);
  }

  private failInFlight(): void {
    // Handshake commands are in here too: they reject, which destroys nothing more (the socket is gone).
    for (const pending of this.inFlight.splice(0)) this.settle(pending, connectionClosed());
  }

  private end(): void {
    if (this.status === 'end') return;
    this.status = 'end';
    this.emit('end');
  }

  private emitError(err: Error): void {
    // EventEmitter throws an 'error' nobody listens to; a cache client must never crash the process.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
