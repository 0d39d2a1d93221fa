/**
 * `npm run client`: regenerates the typed client's types
 * (clients/typescript/src/generated/api.ts) from the OpenAPI document built
 * from shared/routes.ts and the routes' zod schemas. Run it after changing a
 * route or a schema; test/unit/client-types.test.ts fails until you do.
 *
 * `--stdin`: reads an OpenAPI document from stdin and prints its types
 * instead (the drift test's way in: openapi-typescript's dependencies are
 * ES modules, which jest's CommonJS runtime cannot load).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GENERATED_TYPES_FILE, generateTypes } from '../clients/typescript/codegen/generate-types';
import { buildOpenApiDocument } from '../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../shared/http/route-schemas';
import { ROUTES } from '../shared/routes';

const CLIENT_DIR = resolve(__dirname, '..', 'clients', 'typescript');

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(args: string[]): Promise<void> {
  if (args[0] === '--stdin') {
    process.stdout.write(await generateTypes(JSON.parse(await readStdin()) as object));
    return;
  }
  const out = resolve(CLIENT_DIR, GENERATED_TYPES_FILE);
  const doc = buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, await generateTypes(doc));
  process.stdout.write(`client types for ${Object.keys(doc.paths).length} paths -> ${out}\n`);
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
