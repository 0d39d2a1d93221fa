import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildOpenApiDocument, renderDocsPage } from '../../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../../shared/http/route-schemas';
import { ROUTES } from '../../shared/routes';

/**
 * Local-only documentation endpoints for the gateway's `extraRoutes` hook:
 * GET /openapi.json (the generated OpenAPI 3.1 document) and GET /docs (a
 * self-contained HTML page rendered from it). Built once, at stack start.
 */
export function docsRoutes(gatewayUrl: string): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  const doc = buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS, { servers: [{ url: gatewayUrl, description: 'local stack' }] });
  const pages = new Map<string, { type: string; body: Buffer }>([
    ['/openapi.json', { type: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify(doc, null, 2)) }],
    ['/docs', { type: 'text/html; charset=utf-8', body: Buffer.from(renderDocsPage(doc)) }],
  ]);
  return async (req, res, url) => {
    const page = pages.get(url.pathname);
    if (!page || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    req.resume();
    res.writeHead(200, { 'Content-Type': page.type, 'Content-Length': String(page.body.length), 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : page.body);
    return true;
  };
}
