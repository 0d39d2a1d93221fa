import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { matchRoute, type FunctionName } from '../../shared/routes';
import { errorBody } from '../../shared/http/response';
import type { AuthorizeResult } from './authorizer';
import { createLocalServer, readBody, sendText } from './http';

/** API Gateway REST API's own payload limit. Handlers enforce their smaller limits. */
export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** API Gateway's integration timeout. */
const INTEGRATION_TIMEOUT_MS = 29_000;

type LambdaHandler = (event: any, context: Context) => Promise<any>;
export type HandlerTable = Partial<Record<FunctionName, LambdaHandler>>;

export function lambdaContext(functionName: string, requestId: string, timeoutMs = INTEGRATION_TIMEOUT_MS): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Compact, as API Gateway's own error answers are. */
function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('integration timeout')), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}

export function buildEvent(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  resource: string,
  pathParameters: Record<string, string>,
  claims: Record<string, string> | undefined,
  requestId: string,
): APIGatewayProxyEvent {
  // Maps, then own properties: a header or query name like `constructor` or
  // `__proto__` is just a name (as in the JSON event Lambda receives).
  const headerMap = new Map<string, string>();
  const multiHeaderMap = new Map<string, string[]>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    headerMap.set(name, value);
    multiHeaderMap.set(name, [...(multiHeaderMap.get(name) ?? []), value]);
  }
  const queryMap = new Map<string, string>();
  const multiQueryMap = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) {
    queryMap.set(k, v);
    multiQueryMap.set(k, [...(multiQueryMap.get(k) ?? []), v]);
  }
  const headers = Object.fromEntries(headerMap) as Record<string, string>;
  const multiValueHeaders = Object.fromEntries(multiHeaderMap) as Record<string, string[]>;
  const query = Object.fromEntries(queryMap) as Record<string, string>;
  const multiQuery = Object.fromEntries(multiQueryMap) as Record<string, string[]>;
  const hasQuery = queryMap.size > 0;
  const method = (req.method ?? 'GET').toUpperCase();
  return {
    resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: claims ? { claims } : null,
      httpMethod: method,
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: req.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path: url.pathname,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
      stage: 'local',
    },
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyResult, requestId: string): void {
  const headers: Record<string, string | string[]> = { 'x-amzn-requestid': requestId };
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
  const body = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : Buffer.from(result.body ?? '', 'utf8');
  headers['Content-Length'] = String(body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

/**
 * The local API Gateway: routes the manifest to in-process handlers with the
 * deployed API's rules (Cognito authorizer on `cognito` routes, 10 MB payload
 * limit, gateway errors in the contract's error body).
 */
export function createGateway(options: {
  handlers: HandlerTable;
  authorize: (authorizationHeader: string | undefined) => Promise<AuthorizeResult>;
  /** Extra local-only endpoints (docs, emulator seams); return true when handled. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}): Server {
  return createLocalServer((req, res) => {
    void (async () => {
      const requestId = randomUUID();
      // The path as sent, never a host: `//x/y` is the path `//x/y` (and `//` alone must not throw).
      let url: URL;
      try {
        url = new URL(`http://localhost${req.url?.startsWith('/') ? req.url : `/${req.url ?? ''}`}`);
      } catch {
        send(res, 404, errorBody('not_found', 'No route for this method and path'));
        return;
      }
      try {
        if (options.extraRoutes && (await options.extraRoutes(req, res, url))) return;
        const body = await readBody(req, GATEWAY_MAX_BODY_BYTES);
        if (body === undefined) {
          send(res, 413, errorBody('payload_too_large', 'Request body exceeds the 10 MB API limit'), { Connection: 'close' });
          req.destroy();
          return;
        }
        let matched: ReturnType<typeof matchRoute>;
        try {
          matched = matchRoute(req.method ?? 'GET', url.pathname);
        } catch {
          matched = { allowed: [] };
        }
        if (!matched.match) {
          if (matched.allowed.length > 0) {
            send(res, 405, errorBody('method_not_allowed', 'Method not allowed on this path'), { Allow: matched.allowed.join(', ') });
          } else {
            send(res, 404, errorBody('not_found', 'No route for this method and path'));
          }
          return;
        }
        const { route, pathParameters } = matched.match;
        let claims: Record<string, string> | undefined;
        if (route.auth === 'cognito') {
          const verdict = await options.authorize(req.headers.authorization);
          if (!verdict.ok) {
            send(res, 401, errorBody('unauthorized', 'A valid Cognito access token is required'));
            return;
          }
          claims = verdict.claims;
        }
        const handler = options.handlers[route.handler];
        if (!handler) throw new Error(`no handler loaded for ${route.handler}`);
        const event = buildEvent(req, url, body, route.path, pathParameters, claims, requestId);
        const result = (await withTimeout(handler(event, lambdaContext(route.handler, requestId)), INTEGRATION_TIMEOUT_MS)) as APIGatewayProxyResult;
        writeResult(res, result, requestId);
      } catch (err) {
        // What API Gateway does when the integration fails: a generic 5xx, details only in the logs.
        process.stderr.write(`[gateway] ${req.method} ${url.pathname} failed: ${(err as Error).stack ?? String(err)}\n`);
        if (!res.headersSent) send(res, 502, errorBody('internal_error', 'Internal error'));
        else res.end();
      }
    })();
  });
}

/**
 * The local Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`)
 * that cognito-local's triggers call, as the AWS SDK's Lambda client does.
 */
export function createLambdaInvokeServer(functions: Record<string, LambdaHandler>): Server {
  return createLocalServer((req, res) => {
    void (async () => {
      const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec((req.url ?? '/').split('?')[0] as string);
      const handler = m ? functions[decodeURIComponent(m[1] as string)] : undefined;
      if (req.method !== 'POST' || !m || !handler) {
        send(res, 404, { Type: 'User', message: 'Function not found' }, { 'x-amzn-ErrorType': 'ResourceNotFoundException' });
        return;
      }
      const payload = (await readBody(req, 6 * 1024 * 1024)) ?? Buffer.alloc(0);
      const requestId = randomUUID();
      try {
        const event: unknown = JSON.parse(payload.toString('utf8') || '{}');
        const result: unknown = await handler(event, lambdaContext(m[1] as string, requestId, 5000));
        send(res, 200, result ?? null, { 'x-amz-executed-version': '$LATEST', 'x-amzn-requestid': requestId });
      } catch (err) {
        const e = err as Error;
        send(res, 200, { errorType: e.name, errorMessage: e.message }, { 'X-Amz-Function-Error': 'Unhandled', 'x-amzn-requestid': requestId });
      }
    })();
  });
}
