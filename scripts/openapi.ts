/**
 * `npm run openapi [-- out.json]`: writes the OpenAPI 3.1 document generated
 * from shared/routes.ts and shared/http/schemas.ts (default docs/openapi.json,
 * ignored by git: it is generated on demand, never edited). The running local
 * stack serves the same document at /openapi.json and Swagger UI over it at /docs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildOpenApiDocument } from '../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../shared/http/route-schemas';
import { ROUTES } from '../shared/routes';

const out = resolve(__dirname, '..', process.argv[2] ?? 'docs/openapi.json');
const doc = buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
process.stdout.write(`OpenAPI ${doc.openapi}: ${Object.keys(doc.paths).length} paths, ${Object.keys(doc.components.schemas).length} schemas -> ${out}\n`);
