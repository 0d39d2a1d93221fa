/**
 * `npm run client`: regenerates the typed client's types
 * (clients/typescript/src/generated/api.ts) from the OpenAPI document built
 * from shared/routes.ts and the routes' zod schemas. Run it after changing a
 * route or a schema; test/unit/client-types.test.ts fails until you do.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GENERATED_TYPES_FILE, generateTypes } from '../clients/typescript/codegen/generate-types';
import { buildOpenApiDocument } from '../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../shared/http/route-schemas';
import { ROUTES } from '../shared/routes';

export const CLIENT_DIR = resolve(__dirname, '..', 'clients', 'typescript');

async function main(): Promise<void> {
  const out = resolve(CLIENT_DIR, GENERATED_TYPES_FILE);
  const doc = buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, await generateTypes(doc));
  process.stdout.write(`client types for ${Object.keys(doc.paths).length} paths -> ${out}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
