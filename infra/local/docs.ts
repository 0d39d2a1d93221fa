import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { buildOpenApiDocument } from '../../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../../shared/http/route-schemas';
import { ROUTES } from '../../shared/routes';

/**
 * Local-only documentation endpoints for the gateway's `extraRoutes` hook:
 * GET /openapi.json (the generated OpenAPI 3.1 document) and GET /docs, an
 * interactive reference (Swagger UI from the `swagger-ui-dist` package, every
 * file served from here: it works offline and "try it" calls the gateway
 * from the same origin, so no CORS is involved).
 */

/**
 * The Swagger UI files the page loads, by URL path. A fixed list looked up by
 * the exact path: a request can never name a file on disk (no traversal).
 */
const SWAGGER_UI_ASSETS: Record<string, { file: string; type: string }> = {
  '/docs/swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  '/docs/swagger-ui.css.map': { file: 'swagger-ui.css.map', type: 'application/json; charset=utf-8' },
  '/docs/swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  '/docs/swagger-ui-bundle.js.map': { file: 'swagger-ui-bundle.js.map', type: 'application/json; charset=utf-8' },
  '/docs/favicon-32x32.png': { file: 'favicon-32x32.png', type: 'image/png' },
  '/docs/favicon-16x16.png': { file: 'favicon-16x16.png', type: 'image/png' },
};

const DOCS_PAGE_PATHS = ['/docs', '/docs/'];
const DOCS_INITIALIZER_PATH = '/docs/swagger-initializer.js';

/**
 * The browser may load nothing from anywhere but the gateway: a CDN link
 * slipped in by an upgrade fails in the page (and in the browser test).
 * Swagger UI sets inline styles, and its icons are data: URIs.
 */
const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Entitlements API (local)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"><p>Loading the API reference from <a href="/openapi.json">/openapi.json</a>...</p></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="${DOCS_INITIALIZER_PATH}"></script>
</body>
</html>
`;

/*
 * The page's own origin goes first in `servers`: "try it" then calls the
 * gateway that served the page, even when it was opened as localhost rather
 * than the 127.0.0.1 the document names (another origin: CORS, which the
 * gateway, like the deployed API, does not answer). No validator badge: it
 * would send the document to validator.swagger.io. Authorisations persist in
 * this origin's localStorage, so a developer enters a token or key once.
 */
const DOCS_INITIALIZER = `'use strict';
fetch('/openapi.json')
  .then(function (res) {
    if (!res.ok) throw new Error('GET /openapi.json answered ' + res.status);
    return res.json();
  })
  .then(function (spec) {
    var here = window.location.origin;
    var servers = spec.servers || [];
    if (!servers.some(function (s) { return s.url === here; })) {
      spec.servers = [{ url: here, description: 'the gateway serving this page' }].concat(servers);
    }
    window.ui = SwaggerUIBundle({
      spec: spec,
      dom_id: '#swagger-ui',
      deepLinking: true,
      docExpansion: 'list',
      filter: true,
      validatorUrl: null,
      persistAuthorization: true,
      displayRequestDuration: true,
    });
  })
  .catch(function (err) {
    document.getElementById('swagger-ui').textContent = 'Could not load the API reference: ' + err.message;
  });
`;

interface Served {
  type: string;
  body: () => Promise<Buffer>;
  headers?: Record<string, string>;
}

/** Read on first use (the bundle is large and most stacks never open /docs), then kept. */
function fileOnce(path: string): () => Promise<Buffer> {
  let read: Promise<Buffer> | undefined;
  return () => {
    read ??= readFile(path).catch((err: unknown) => {
      read = undefined;
      throw err;
    });
    return read;
  };
}

export function docsRoutes(gatewayUrl: string): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  const doc = buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS, { servers: [{ url: gatewayUrl, description: 'local stack' }] });
  // Resolved at start: a missing package fails `npm run local` at once, not the first page view.
  const swaggerUiDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const constant = (text: string) => {
    const body = Buffer.from(text);
    return async () => body;
  };
  const served = new Map<string, Served>([
    ['/openapi.json', { type: 'application/json; charset=utf-8', body: constant(JSON.stringify(doc, null, 2)) }],
    [DOCS_INITIALIZER_PATH, { type: 'text/javascript; charset=utf-8', body: constant(DOCS_INITIALIZER) }],
    ...DOCS_PAGE_PATHS.map((path): [string, Served] => [
      path,
      { type: 'text/html; charset=utf-8', body: constant(DOCS_PAGE), headers: { 'Content-Security-Policy': DOCS_CONTENT_SECURITY_POLICY } },
    ]),
    ...Object.entries(SWAGGER_UI_ASSETS).map(([path, asset]): [string, Served] => [path, { type: asset.type, body: fileOnce(join(swaggerUiDir, asset.file)) }]),
  ]);
  return async (req, res, url) => {
    const page = served.get(url.pathname);
    if (!page || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    req.resume();
    const body = await page.body();
    res.writeHead(200, {
      'Content-Type': page.type,
      'Content-Length': String(body.length),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...page.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
