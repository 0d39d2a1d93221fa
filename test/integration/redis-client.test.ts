import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { freePort, onPath, startProcess, waitUntil, type OwnedProcess } from '../../infra/local/processes';
import { RespClient, type RespClientOptions } from '../../shared/adapters/redis/resp-client';
import { RedisReplyError } from '../../shared/adapters/redis/resp';
import { localStack } from '../fixtures/stack';
import { blackHolePort, closedPort } from '../fixtures/tcp-proxy';
import { startOwnedRedis, type PausableProcess } from '../fixtures/paused-process';

/**
 * The Redis client (shared/adapters/redis/resp-client.ts) against real
 * servers: the shared Redis for commands, redis-servers of the test's own for
 * AUTH, a hung server and one that goes away and comes back, a TLS terminator
 * in front of the shared Redis, and ports that refuse or never answer.
 */
const sharedUrl = () => {
  const url = localStack().handlerEnv.REDIS_URL;
  if (!url) throw new Error('the local stack runs without Redis; integration tests need it');
  return url;
};
const clients: RespClient[] = [];
const client = (url: string, options: Partial<RespClientOptions> = {}) => {
  const c = new RespClient(url, { connectTimeoutMs: 1000, commandTimeoutMs: 1000, maxRetriesPerRequest: 1, ...options });
  clients.push(c);
  return c;
};
const ready = (c: RespClient) => (c.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => c.once('ready', resolve)));
const owned: OwnedProcess[] = [];
const pausable: PausableProcess[] = [];

/** A redis-server of this test's own on `port`; `password` turns AUTH on. */
async function redisServer(port: number, password?: string): Promise<OwnedProcess> {
  const binary = onPath('redis-server');
  if (!binary) throw new Error('redis-server is not on PATH');
  const auth = password ? ['--requirepass', password] : [];
  const proc = startProcess('redis-server (redis-client test)', binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...auth]);
  owned.push(proc);
  const url = `redis://${password ? `:${password}@` : ''}127.0.0.1:${port}`;
  await waitUntil(
    'redis-server',
    async () => {
      const probe = new RespClient(url, { connectTimeoutMs: 300, commandTimeoutMs: 300, maxRetriesPerRequest: 0, retryDelayMs: () => null });
      try {
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    },
    10_000,
    proc,
  );
  return proc;
}

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all([...owned.map((p) => p.stop()), ...pausable.map((p) => p.stop())]);
});

describe('RespClient on the shared Redis', () => {
  it('runs the commands the adapters use, with the replies they expect', async () => {
    const redis = client(sharedUrl());
    const k = `resp-test:${randomUUID()}`;
    // Issued before the connection is ready: it waits for it.
    expect(redis.status).toBe('connecting');
    await expect(redis.ping()).resolves.toBe('PONG');
    await expect(redis.get(k)).resolves.toBeNull();
    await expect(redis.set(k, 'zoë→', 'PX', 60_000)).resolves.toBe('OK');
    await expect(redis.get(k)).resolves.toBe('zoë→');
    const ttl = await redis.pttl(k);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // A Lua table of tables comes back as nested arrays; integers as numbers.
    await expect(redis.eval("return {1, {KEYS[1], ARGV[1]}, redis.call('GET', KEYS[1])}", 1, k, 42)).resolves.toEqual([1, [k, '42'], 'zoë→']);
    await expect(redis.del(k, `${k}:missing`)).resolves.toBe(1);
    await expect(redis.pttl(k)).resolves.toBe(-2);
  });

  it('rejects a command the server refuses with its error, and the connection carries on', async () => {
    const redis = client(sharedUrl());
    const failed = redis.eval('return redis.error_reply("MYERR no")', 0);
    await expect(failed).rejects.toBeInstanceOf(RedisReplyError);
    await expect(failed).rejects.toThrow('MYERR no');
    await expect(redis.ping()).resolves.toBe('PONG');
  });

  it('pipelines: 2,000 concurrent commands each get their own answer', async () => {
    const redis = client(sharedUrl());
    await ready(redis);
    const prefix = `resp-test:${randomUUID()}:`;
    await Promise.all(Array.from({ length: 1000 }, (_, i) => redis.set(`${prefix}${i}`, `v${i}`, 'PX', 60_000)));
    const values = await Promise.all(Array.from({ length: 2000 }, (_, i) => redis.get(`${prefix}${i % 1000}`)));
    expect(values).toEqual(Array.from({ length: 2000 }, (_, i) => `v${i % 1000}`));
  });

  it('quit() lets what is in flight finish, then closes for good', async () => {
    const redis = client(sharedUrl());
    await ready(redis);
    const inFlight = redis.ping();
    await redis.quit();
    await expect(inFlight).resolves.toBe('PONG');
    expect(redis.status).toBe('end');
    await expect(redis.ping()).rejects.toThrow('Connection is closed.');
  });

  it('disconnect() fails what is pending at once and never reconnects', async () => {
    const redis = client(sharedUrl(), { commandTimeoutMs: 5000 });
    const pending = redis.ping(); // still waiting for the connection
    redis.disconnect();
    await expect(pending).rejects.toThrow('Connection is closed.');
    await new Promise((r) => setTimeout(r, 300));
    expect(redis.status).toBe('end');
  });
});

describe('RespClient AUTH', () => {
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    await redisServer(port, 'x');
  });

  it('authenticates with the password option before any command', async () => {
    const redis = client(`redis://127.0.0.1:${port}`, { password: 'x' });
    await expect(redis.ping()).resolves.toBe('PONG');
  });

  it('takes the password from the URL, and user:password as AUTH user pass', async () => {
    await expect(client(`redis://:x@127.0.0.1:${port}`).ping()).resolves.toBe('PONG');
    // `default` is the user requirepass sets (Redis 6+ ACL): AUTH default x.
    await expect(client(`redis://default:x@127.0.0.1:${port}`).ping()).resolves.toBe('PONG');
    await expect(client(`redis://nobody:x@127.0.0.1:${port}`, { connectTimeoutMs: 300, commandTimeoutMs: 300, maxRetriesPerRequest: 0 }).ping()).rejects.toThrow();
  });

  it('without a password, the server refuses the command (NOAUTH), as an error reply', async () => {
    await expect(client(`redis://127.0.0.1:${port}`).ping()).rejects.toThrow(/NOAUTH/);
  });

  it('reports a wrong password as an error event, and the waiting command fails', async () => {
    const redis = client(`redis://127.0.0.1:${port}`, { password: 'wrong', commandTimeoutMs: 300 });
    const errors: Error[] = [];
    redis.on('error', (err) => errors.push(err));
    await expect(redis.ping()).rejects.toThrow();
    expect(errors.some((e) => /WRONGPASS|invalid password/i.test(e.message))).toBe(true);
    expect(redis.status).not.toBe('ready');
  });
});

describe('RespClient TLS (rediss://)', () => {
  let dir: string;
  let server: TlsServer;
  let port: number;
  let cert: string;
  const serverNames: Array<string | false | null> = [];
  const open = new Set<Socket>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'resp-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const target = new URL(sharedUrl());
    // Terminates TLS and pipes the plaintext to the shared Redis, as ElastiCache's in-transit encryption does.
    server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (tlsSocket) => {
      serverNames.push(tlsSocket.servername);
      const upstream: Socket = connectTcp(Number(target.port || 6379), target.hostname);
      open.add(tlsSocket).add(upstream);
      tlsSocket.pipe(upstream).pipe(tlsSocket);
      const close = () => {
        tlsSocket.destroy();
        upstream.destroy();
        open.delete(tlsSocket);
        open.delete(upstream);
      };
      tlsSocket.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    // server.close() waits for open connections: this block's clients and their pipes go first.
    for (const c of clients) c.disconnect();
    for (const socket of open) socket.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('speaks Redis over TLS, sending the host name as SNI, when the server certificate is trusted', async () => {
    const redis = client(`rediss://localhost:${port}`, { tlsCa: cert });
    const k = `resp-test:${randomUUID()}`;
    await expect(redis.set(k, 'over tls', 'PX', 60_000)).resolves.toBe('OK');
    await expect(redis.eval("return redis.call('GET', KEYS[1])", 1, k)).resolves.toBe('over tls');
    expect(serverNames).toContain('localhost');
  });

  it('refuses a server whose certificate it cannot verify', async () => {
    const redis = client(`rediss://localhost:${port}`, { commandTimeoutMs: 500 });
    const errors: Error[] = [];
    redis.on('error', (err) => errors.push(err));
    await expect(redis.ping()).rejects.toThrow();
    expect(errors.some((e) => /self[- ]signed|certificate/i.test(e.message))).toBe(true);
  });
});

describe('RespClient when Redis is slow, down or comes back', () => {
  it('times a command out against a port that accepts and never answers, within its budget', async () => {
    const hole = await blackHolePort();
    try {
      const redis = client(`redis://127.0.0.1:${hole.port}`, { commandTimeoutMs: 50 });
      const started = performance.now();
      await expect(redis.get('k')).rejects.toThrow('Command timed out');
      const ms = performance.now() - started;
      expect(ms).toBeGreaterThanOrEqual(45);
      expect(ms).toBeLessThan(500);
    } finally {
      await hole.close();
    }
  });

  it('times the connection out when the handshake is never answered, and reports it', async () => {
    const hole = await blackHolePort();
    try {
      const redis = client(`redis://127.0.0.1:${hole.port}`, { password: 'x', connectTimeoutMs: 100, commandTimeoutMs: 2000 });
      const errors: Error[] = [];
      redis.on('error', (err) => errors.push(err));
      await expect(redis.ping()).rejects.toThrow();
      expect(errors.some((e) => /ETIMEDOUT/.test(e.message))).toBe(true);
    } finally {
      await hole.close();
    }
  });

  it('fails a waiting command after maxRetriesPerRequest failed attempts, before its timeout, when connections are refused', async () => {
    const redis = client(`redis://127.0.0.1:${await closedPort()}`, { commandTimeoutMs: 5000, maxRetriesPerRequest: 0 });
    const started = performance.now();
    await expect(redis.ping()).rejects.toThrow(/max retries/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('keeps replies in step after a timeout: the late reply is read and dropped, never given to the next command', async () => {
    const server = await startOwnedRedis();
    pausable.push(server);
    const redis = client(server.url, { commandTimeoutMs: 100 });
    await ready(redis);
    const k = `resp-test:${randomUUID()}`;
    await redis.set(k, 'before');
    // Act: the server hangs with a command in flight, which times out...
    server.pause();
    await expect(redis.set(k, 'during', 'PX', 60_000)).rejects.toThrow('Command timed out');
    server.resume();
    // ...then the next commands get their own answers (the SET's late OK is not one of them).
    await expect(redis.get(k)).resolves.toBe('during');
    await expect(redis.ping()).resolves.toBe('PONG');
    await expect(redis.pttl(k)).resolves.toBeGreaterThan(50_000);
  });

  it('fails commands in flight when the server goes away, then reconnects by itself when it comes back', async () => {
    const port = await freePort();
    let server = await redisServer(port);
    const redis = client(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 5000 });
    await ready(redis);
    const k = `resp-test:${randomUUID()}`;
    await redis.set(k, 'v');
    // A script that keeps the server busy, so the command is surely in flight when the server dies.
    const inFlight = redis.eval("local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 3 do end return 1", 0);
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill('SIGKILL');
    await expect(inFlight).rejects.toThrow('Connection is closed.');
    await new Promise((r) => setTimeout(r, 50));
    expect(redis.status).toBe('reconnecting');

    server = await redisServer(port);
    await ready(redis);
    // A fresh server (no persistence): the key is gone, the connection works.
    await expect(redis.get(k)).resolves.toBeNull();
    await expect(redis.ping()).resolves.toBe('PONG');
  });
});
