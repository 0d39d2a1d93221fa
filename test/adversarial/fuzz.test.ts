import Stripe from 'stripe';
import { ROUTES, type RouteDefinition } from '../../shared/routes';
import { signUpAndSignIn, type TestUser } from '../fixtures/cognito';
import { localStack } from '../fixtures/stack';
import { contractViolation, destroyDoc, env, getRow, prng, rawApi, snapshotUser, type Rng } from './support';

/**
 * Fuzzes every route of the running local stack through the gateway with
 * random and malformed requests, for each kind of caller, and checks that
 * only contract answers come back: never a 5xx, always a JSON body, errors
 * exactly `{error:{code,message}}`, no internals in any body, and nothing
 * written for the dedicated fuzz user by a refused request.
 *
 * Reproduce a failure with FUZZ_SEED=<seed printed below>; FUZZ_SEED=random
 * picks a new one; FUZZ_REQUESTS sets how many random requests are sent.
 */
const SEED = process.env.FUZZ_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED ?? 20261123);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000);
const CONCURRENCY = 8;
/** Requests between two snapshots of the fuzz user's rows. */
const WINDOW = 24;

type Auth = 'none' | 'key' | 'token' | 'mixed';
interface FuzzRequest {
  n: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  route?: RouteDefinition;
  auth: Auth;
}

/** Routes whose success may legitimately write the fuzz user's rows. */
const WRITE_ROUTES = new Set([
  'POST /v1/users/{userId}/tokens/consume',
  'POST /v1/users/{userId}/tokens/add',
  'PUT /v1/users/{userId}/tier',
  'POST /me/tokens/consume',
  'POST /me/api-keys',
  'POST /me/checkout',
  'POST /me/aws-credentials',
  'POST /me/email',
  'POST /me/email/verify',
]);
const mayWrite = (route: RouteDefinition | undefined) => route !== undefined && WRITE_ROUTES.has(`${route.method} ${route.path}`);

/* --------------------------------- values --------------------------------- */

const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);

/** Raw JSON texts for a field value: wrong types, edge numbers, odd strings. */
const WEIRD_VALUES = [
  'null', 'true', 'false', '0', '-0', '-1', '1.5', '1e309', '-1e309', '1e-400', '9007199254740993', '1e21', '2147483648', '1000001',
  '"NaN"', '"Infinity"', '"-0"', '"1"', '"1e309"', '""', '" "', '"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"\\udfff\\ud800"',
  '"😀👨‍👩‍👧‍👦"', '"\\u202e\\u0646\\u0635"', '"Ａｄｍｉｎ"', '"ADMIN"', '" admin "', '"admin\\n"', '"<script>alert(1)</script>"',
  '"${jndi:ldap://x}"', '"\' OR 1=1 --"', '"../../etc/passwd"', '"%00"', '"\\\\x00"', `"${'a'.repeat(5000)}"`, `"${'é'.repeat(3000)}"`,
  '[]', '[1,2,3]', '{}', '{"$ne":null}', '{"__proto__":{"admin":true}}', nested(2000, '[', ']'), nested(500, '{"a":', '}'),
];

const PROTO_BODIES = [
  '{"__proto__":{"amount":5,"tier":"admin","isAdmin":true}}',
  '{"constructor":{"prototype":{"amount":5,"premium":true}}}',
  '{"amount":1,"idempotencyKey":"fz-proto","__proto__":{"idempotencyKey":"x"}}',
  '{"tier":"basic","__proto__":null}',
  '{"email":"a@b.co","__proto__":{"premium":true}}',
  '{"apiKey":"sk_x","constructor":{"name":"x"},"hasOwnProperty":1,"toString":"x","valueOf":2}',
  '{"__proto__":[],"prototype":{},"toJSON":"x"}',
];

const MALFORMED_TEXTS = [
  '', ' ', '\n', 'null', 'true', '0', '"string"', '[]', '[{}]', '{', '}', '{"', '{"a"', '{"a":', '{"a":}', '{"a":1,}', '{,}', "{'a':1}", '{a:1}',
  'NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '01', '1.', '.5', '+1', '{"a":0x1}', '{"a":NaN}', '{"a":1e999999}',
  '\u0000', '{"a":"\u0000"}', '{"a":1}\u0000', '\ufeff{"a":1}', '{"a":1}{"b":2}', '{"a":1} trailing', '/* c */{}', '{"a":"\\x41"}', '{"a":"\\u12"}',
  nested(5000, '[', ']'), nested(3000, '{"a":', '}'), `{"a":"${'x'.repeat(17 * 1024)}"}`, `[${'1,'.repeat(8000)}1]`,
  'amount=1&idempotencyKey=x', '<xml><amount>1</amount></xml>', '--boundary\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--boundary--',
];

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/json; charset=utf-16',
  'text/plain', 'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=boundary', 'application/xml', 'application/jsonp',
  '*/*', 'application/octet-stream', 'application/json, text/plain', ';;;', 'x',
];

const ODD_PATH_VALUES = [
  '..', '.', '%2e%2e', '%2E', 'a%2Fb', '%2F', '%2f..%2f..%2fetc%2fpasswd', '..%2F..%2Fv1%2Fhealth', '%00', 'a%00b', '%25', '%', '%zz', '%E0%A4%A',
  '%F0%9F%98%80', '%C0%AF', '%u002e', 'a;b', 'a,b', '*', '%20', '+', '~', '$', '%0d%0aSet-Cookie:x', 'x'.repeat(129), 'x'.repeat(4000),
  'undefined', 'null', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', '%7BuserId%7D', '{userId}',
];

const EXTRA_HEADERS: Array<[string, string[]]> = [
  ['x-forwarded-for', ['1.2.3.4', '127.0.0.1, 10.0.0.1', 'x'.repeat(2000)]],
  ['accept', ['*/*', 'text/html', 'application/xml', '']],
  ['accept-encoding', ['gzip', 'br', 'identity;q=0']],
  ['x-http-method-override', ['DELETE', 'PUT', 'GET']],
  ['x-amzn-requestid', ['forged', '']],
  ['x-request-id', ['forged-request-id']],
  ['origin', ['https://evil.example', 'null']],
  ['cookie', ['session=abc; __proto__=x']],
  ['idempotency-key', ['k', '']],
  ['stripe-signature', ['t=1,v1=00', 't=abc', 'v1=', ',,,', `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`]],
  ['x-api-key', ['', ' ', 'null', 'x'.repeat(8000), 'wrong-key', '\u00e9\u00e8']],
  ['authorization', ['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer ', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Bearer ${'x'.repeat(6000)}`, 'null']],
  ['content-encoding', ['gzip', 'identity']],
  ['__proto__', ['x']],
  ['constructor', ['x']],
];

/* ------------------------------ generation ------------------------------- */

function validBody(route: RouteDefinition, rng: Rng, fuzzEmail: string): Record<string, unknown> {
  const key = `fz-${rng.int(0, 1e9)}`;
  switch (`${route.method} ${route.path}`) {
    case 'POST /v1/users/{userId}/tokens/consume':
    case 'POST /me/tokens/consume':
      return { amount: rng.int(1, 3), idempotencyKey: key };
    case 'POST /v1/users/{userId}/tokens/add':
      return { amount: rng.int(1, 3), reason: 'fuzz', idempotencyKey: key };
    case 'PUT /v1/users/{userId}/tier':
      return { tier: rng.pick(['free', 'tester', 'basic', 'admin', 'nope']), sticky: rng.chance(0.5) };
    case 'POST /v1/premium/check':
      return { email: rng.pick([fuzzEmail, fuzzEmail.toUpperCase(), ` ${fuzzEmail} `, 'nobody@example.com']) };
    case 'POST /me/checkout':
      return rng.chance(0.5) ? { tier: rng.pick(['basic', 'pro', 'enterprise', 'free', 'admin']) } : { topUp: rng.int(1, 5) };
    case 'POST /v1/api-keys/verify':
      return { apiKey: rng.pick(['sk_live_nope', `ek_${'a'.repeat(40)}`, '']) };
    default:
      return {};
  }
}

/** A body: a valid one with one field broken, junk text, prototype keys, or bytes. */
function body(route: RouteDefinition | undefined, rng: Rng, fuzzEmail: string): string | Uint8Array | undefined {
  const roll = rng.next();
  if (roll < 0.05) return undefined;
  if (roll < 0.45 && route) {
    const valid = validBody(route, rng, fuzzEmail);
    const fields = Object.keys(valid);
    const parts = Object.entries(valid).map(([k, v]) => [k, JSON.stringify(v)] as [string, string]);
    const op = rng.int(0, 4);
    if (op === 0 && parts.length > 0) parts[rng.int(0, parts.length - 1)]![1] = rng.pick(WEIRD_VALUES);
    else if (op === 1 && parts.length > 0) parts.splice(rng.int(0, parts.length - 1), 1);
    else if (op === 2) parts.push([rng.pick(['userId', 'sub', 'tier', 'premium', 'status', '__proto__', 'constructor', '', '\u0000']), rng.pick(WEIRD_VALUES)]);
    else if (op === 3 && fields.length > 0) parts.push([rng.pick(fields), rng.pick(WEIRD_VALUES)]); // a duplicate key: the last one wins in JSON.parse
    else if (parts.length > 0) parts[rng.int(0, parts.length - 1)]![1] = rng.pick(WEIRD_VALUES);
    const text = `{${parts.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    return rng.chance(0.15) ? text.slice(0, rng.int(0, Math.max(0, text.length - 1))) : text;
  }
  if (roll < 0.6) return rng.pick(PROTO_BODIES);
  if (roll < 0.85) return rng.pick(MALFORMED_TEXTS);
  if (roll < 0.92) return `[${rng.pick(WEIRD_VALUES)}]`;
  // Raw bytes: invalid UTF-8, NULs, a UTF-16 BOM.
  const bytes = new Uint8Array(rng.int(4, 64));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
  if (rng.chance(0.3)) bytes.set([0xff, 0xfe, 0x7b, 0x00], 0);
  return bytes;
}

function pathFor(route: RouteDefinition, rng: Rng, userId: string): string {
  return route.path.replace(/\{(\w+)\}/g, () => (rng.chance(0.55) ? userId : rng.pick(ODD_PATH_VALUES)));
}

function randomPath(rng: Rng): string {
  const segments = ['v1', 'me', 'users', 'tokens', 'consume', 'status', 'tier', 'api-keys', 'verify', 'stripe', 'webhook', 'health', 'tiers', 'premium', 'check', '..', '%2e%2e', '%2F', '', 'account', 'openapi.json', '_emulator', '2015-03-31', 'functions'];
  const n = rng.int(0, 6);
  let path = '';
  for (let i = 0; i < n; i++) path += `/${rng.chance(0.85) ? rng.pick(segments) : rng.pick(ODD_PATH_VALUES)}`;
  if (rng.chance(0.2)) path += '/';
  const route = rng.pick(ROUTES).path.replace(/\{\w+\}/g, 'x');
  const variants = [path || '/', route.toUpperCase(), `${route}/`, `${route}//`, `/${route}`, `${route}.json`, `${route}%20`, `${route};x=1`, route.replace(/^\//, '/./')];
  return rng.chance(0.5) ? path || '/' : rng.pick(variants);
}

function generate(n: number, rng: Rng, user: TestUser, internalKey: string, otherToken: string): FuzzRequest {
  const onRoute = rng.chance(0.88);
  const route = onRoute ? rng.pick(ROUTES) : undefined;
  let method = route && rng.chance(0.85) ? route.method : rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
  let path = route ? pathFor(route, rng, user.sub) : randomPath(rng);
  if (rng.chance(0.1)) path += rng.pick(['?userId=someone-else', '?__proto__[admin]=1', '?a=%00&a=1', `?q=${'x'.repeat(3000)}`, '?email=a@b.co&sub=x', '?constructor=1&constructor=2&__proto__=x&hasOwnProperty=1']);
  const auth: Auth = rng.pick(['none', 'key', 'token', 'token', 'mixed']);
  const headers: Record<string, string> = {};
  if (auth === 'key') headers['x-api-key'] = internalKey;
  if (auth === 'token') headers.authorization = rng.chance(0.8) ? `Bearer ${user.accessToken}` : rng.pick([user.accessToken, `bearer  ${user.accessToken}`, `Bearer ${user.accessToken} `]);
  if (auth === 'mixed') {
    const variant = rng.int(0, 6);
    if (variant === 0) headers['x-api-key'] = user.accessToken;
    else if (variant === 1) headers.authorization = `Bearer ${internalKey}`;
    else if (variant === 2) Object.assign(headers, { 'x-api-key': internalKey, authorization: `Bearer ${user.accessToken}` });
    else if (variant === 3) headers['X-API-KEY'] = `${internalKey} `;
    else if (variant === 4) headers['x-api-key'] = `${internalKey},${internalKey}`;
    else if (variant === 5) headers.authorization = `Bearer ${user.idToken}`;
    else headers.authorization = `Bearer ${otherToken.slice(0, -4)}AAAA`;
  }
  let payload = method === 'GET' || method === 'HEAD' ? undefined : body(route, rng, user.email);
  if (payload !== undefined && rng.chance(0.8)) headers['content-type'] = rng.chance(0.7) ? 'application/json' : rng.pick(CONTENT_TYPES);
  for (let i = rng.int(0, 3); i > 0; i--) {
    const [name, values] = rng.pick(EXTRA_HEADERS);
    if (name === 'x-api-key' && auth === 'key') continue;
    if (name === 'authorization' && auth === 'token') continue;
    headers[name] = rng.pick(values);
  }
  if (route?.auth === 'stripe-signature' && rng.chance(0.3) && typeof payload === 'string') {
    // Correctly signed junk: only Stripe can send it, and it must still get a contract answer.
    headers['stripe-signature'] = Stripe.webhooks.generateTestHeaderString({ payload, secret: env().STRIPE_WEBHOOK_SECRET as string });
  }
  if (method === 'GET' && rng.chance(0.05)) method = 'DELETE';
  // A valid token never deletes the fuzz user's own account, whatever the path spelling (the authorization matrix covers deletion).
  if (method === 'DELETE' && /account|%61|%41/i.test(path) && headers.authorization) headers.authorization = 'Bearer nope';
  return { n, method, path, headers, body: payload, route, auth };
}

function describe_(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : typeof req.body === 'string' ? req.body.slice(0, 160) : `<${req.body.length} bytes>`;
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, v.length > 60 ? `${v.slice(0, 20)}…(${v.length})` : v]));
  return `#${req.n} ${req.method} ${req.path.slice(0, 160)} auth=${req.auth} headers=${JSON.stringify(headers)} body=${JSON.stringify(body)}`;
}

/* --------------------------------- the run -------------------------------- */

describe(`fuzzing every route (seed ${SEED})`, () => {
  let user: TestUser;
  let other: TestUser;
  const statuses = new Map<number, number>();
  let sent = 0;

  beforeAll(async () => {
    process.stdout.write(`\n[fuzz] seed ${SEED} (reproduce with FUZZ_SEED=${SEED}), ${REQUESTS} random requests\n`);
    [user, other] = await Promise.all([signUpAndSignIn('fuzz'), signUpAndSignIn('fuzz-other')]);
  });

  afterAll(() => {
    destroyDoc();
    process.stdout.write(`[fuzz] ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`);
  });

  async function send(req: FuzzRequest): Promise<{ status: number; text: string }> {
    sent++;
    const res = await rawApi(req.path, { method: req.method, headers: req.headers, body: req.body as RequestInit['body'] });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    return res;
  }

  it('answers thousands of random requests only with contract bodies, writing nothing when it refuses', async () => {
    const rng = prng(SEED);
    const internalKey = localStack().internalApiKey;
    const failures: string[] = [];
    let before = await snapshotUser(user.sub);
    let windowRequests: Array<{ req: FuzzRequest; status: number }> = [];
    let checkedWindows = 0;

    for (let start = 0; start < REQUESTS; start += CONCURRENCY) {
      const batch = Array.from({ length: Math.min(CONCURRENCY, REQUESTS - start) }, (_, i) => generate(start + i, rng, user, internalKey, other.accessToken));
      const results = await Promise.all(
        batch.map(async (req) => {
          try {
            return { req, ...(await send(req)) };
          } catch (err) {
            return { req, status: 0, text: `fetch failed: ${(err as Error).message}` };
          }
        }),
      );
      for (const { req, status, text } of results) {
        const problem = status === 0 ? text : contractViolation(status, text);
        if (problem && failures.length < 25) failures.push(`${problem}\n    ${describe_(req)}`);
        windowRequests.push({ req, status });
      }
      if (windowRequests.length >= WINDOW || start + CONCURRENCY >= REQUESTS) {
        const after = await snapshotUser(user.sub);
        // A request that succeeded on a writing route may have written legitimately; else nothing may change.
        const maySucceedWrite = windowRequests.some(({ req, status }) => status >= 200 && status < 300 && mayWrite(req.route));
        if (!maySucceedWrite) {
          checkedWindows++;
          if (after !== before && failures.length < 25) {
            failures.push(`the fuzz user's rows changed after only refused requests:\n${before}\n->\n${after}\n    ${windowRequests.map(({ req, status }) => `${status} ${describe_(req)}`).join('\n    ')}`);
          }
        }
        windowRequests = [];
        if (maySucceedWrite && (await getRow('TABLE_ENTITLEMENTS', user.sub))?.tier !== 'free') {
          // A valid tier override went through: back to free, so most requests stay refusals.
          await rawApi(`/v1/users/${user.sub}/tier`, { method: 'PUT', headers: { 'x-api-key': internalKey, 'content-type': 'application/json' }, body: '{"tier":"free"}' });
          before = await snapshotUser(user.sub);
        } else {
          before = after;
        }
      }
    }
    process.stdout.write(`[fuzz] ${checkedWindows} windows of ${WINDOW} requests checked for writes\n`);
    expect(failures).toEqual([]);
    expect(checkedWindows).toBeGreaterThan(REQUESTS / WINDOW / 2);
  }, 240_000);

  it('answers fixed nasty requests on every route with contract bodies', async () => {
    const failures: string[] = [];
    const internalKey = localStack().internalApiKey;
    const auths: Record<string, Record<string, string>> = {
      none: {},
      key: { 'x-api-key': internalKey },
      token: { authorization: `Bearer ${user.accessToken}` },
    };
    const bodies: Array<string | Uint8Array> = [...MALFORMED_TEXTS, ...PROTO_BODIES, Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('{"amount":1,"idempotencyKey":"\0"}')];
    for (const route of ROUTES) {
      if (route.handler === 'delete-account') continue;
      for (const [auth, headers] of Object.entries(auths)) {
        const path = route.path.replace(/\{\w+\}/g, user.sub);
        const requests = route.method === 'GET' ? [undefined] : bodies;
        const before = await snapshotUser(user.sub);
        let succeededWrite = false;
        for (let i = 0; i < requests.length; i += CONCURRENCY) {
          await Promise.all(
            requests.slice(i, i + CONCURRENCY).map(async (b) => {
              const req: FuzzRequest = { n: -1, method: route.method, path, headers: { ...headers, 'content-type': 'application/json' }, body: b, route, auth: auth as Auth };
              const res = await send(req);
              if (res.status < 300 && mayWrite(route)) succeededWrite = true;
              const problem = contractViolation(res.status, res.text);
              if (problem && failures.length < 25) failures.push(`${problem}\n    ${describe_(req)}`);
            }),
          );
        }
        if (!succeededWrite && (await snapshotUser(user.sub)) !== before) failures.push(`${route.method} ${route.path} (${auth}) wrote for refused requests`);
      }
    }
    // The gateway's own limits: a body over 10 MB, and a path parameter at the edge of the URL limit.
    const huge = await send({ n: -2, method: 'POST', path: '/v1/premium/check', headers: { 'content-type': 'application/json', 'x-api-key': internalKey }, body: `{"email":"${'a'.repeat(10 * 1024 * 1024)}"}`, auth: 'key' });
    expect(huge.status).toBe(413);
    expect(contractViolation(huge.status, huge.text)).toBeUndefined();
    const long = await send({ n: -3, method: 'GET', path: `/v1/users/${'u'.repeat(12_000)}/status`, headers: { 'x-api-key': internalKey }, auth: 'key' });
    expect(long.status).toBe(400);
    expect(contractViolation(long.status, long.text)).toBeUndefined();
    expect(failures).toEqual([]);
  }, 120_000);
});
