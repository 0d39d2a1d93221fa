import { execFile } from 'node:child_process';
import type { ConsumeRequest, FeatureCheck, Schemas, SuccessBody, WithOptionalKey } from '@entitlements-backend/client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_TYPES_FILE } from '../../clients/typescript/codegen/generated-file';
import type { OpenApiDocument } from '../../shared/http/openapi';
import { buildOpenApiDocument } from '../../shared/http/openapi';
import { ROUTE_SCHEMAS } from '../../shared/http/route-schemas';
import { ROUTES } from '../../shared/routes';

/**
 * The typed client's generated types (clients/typescript/src/generated/api.ts)
 * against the OpenAPI document the routes and their zod schemas build now:
 * a route or schema changed without `npm run client` fails here, with the
 * command to run.
 */

const ROOT = join(__dirname, '..', '..');
const CLIENT_DIR = join(ROOT, 'clients', 'typescript');

/**
 * The generator run on a document built here, in memory: through
 * `npm run client -- --stdin` in a child process, because openapi-typescript's
 * dependencies are ES modules that jest's CommonJS runtime cannot load.
 */
function generateTypes(doc: OpenApiDocument): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [require.resolve('tsx/cli'), join(ROOT, 'scripts', 'client.ts'), '--stdin'],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`the generator failed: ${stderr || error.message}`)) : resolve(stdout)),
    );
    child.stdin?.end(JSON.stringify(doc));
  });
}
const committedFile = join(CLIENT_DIR, GENERATED_TYPES_FILE);

/** Where two texts first differ, as line numbers and both lines, so the failure says what drifted. */
function firstDifference(committed: string, expected: string): string {
  const a = committed.split('\n');
  const b = expected.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `first difference at line ${at + 1}:\n  committed: ${JSON.stringify(a[at] ?? '<end of file>')}\n  generated: ${JSON.stringify(b[at] ?? '<end of file>')}`;
}

function assertInSync(committed: string, expected: string): void {
  if (committed === expected) return;
  throw new Error(
    `clients/typescript/${GENERATED_TYPES_FILE} (the TypeScript client's types) is out of date with the OpenAPI document ` +
      `(shared/routes.ts + shared/http/route-schemas.ts): run \`npm run client\` and commit the result.\n${firstDifference(committed, expected)}`,
  );
}

// Compile-time: answers are typed from the generated document.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const typed: [
  Same<SuccessBody<'/v1/users/{userId}/status', 'get'>, Schemas['UserStatus']>,
  Same<SuccessBody<'/me/api-keys', 'post'>, Schemas['ApiKeyCreated']>,
  Same<FeatureCheck, SuccessBody<'/v1/users/{userId}/features/check', 'post'>>,
  // The consume helper takes the route's request body (a field added to the schema is accepted after regenerating), key optional.
  Same<ConsumeRequest, Omit<Schemas['ConsumeTokensRequest'], 'idempotencyKey'> & { idempotencyKey?: string }>,
  Same<WithOptionalKey<{ amount: number; feature?: string; idempotencyKey: string }>, { amount: number; feature?: string; idempotencyKey?: string }>,
] = [true, true, true, true, true];

describe('the typed client’s generated types', () => {
  it('type the helpers’ answers from the document (compile-time checks)', () => {
    expect(typed.every(Boolean)).toBe(true);
  });

  it('are what the current OpenAPI document generates (run `npm run client` when this fails)', async () => {
    const expected = await generateTypes(buildOpenApiDocument(ROUTES, ROUTE_SCHEMAS));
    assertInSync(readFileSync(committedFile, 'utf8'), expected);
  });

  it('fail the check, naming the command, when a route changes without regenerating', async () => {
    const committed = readFileSync(committedFile, 'utf8');
    const renamed = ROUTES.map((route) => (route.path === '/v1/premium/check' ? { ...route, summary: 'Is this email premium? (renamed)' } : route));
    const changed = await generateTypes(buildOpenApiDocument(renamed, ROUTE_SCHEMAS));
    expect(() => assertInSync(committed, changed)).toThrow(/clients\/typescript\/src\/generated\/api\.ts .* out of date .* run `npm run client`[\s\S]*Is this email premium\? \(renamed\)/);
  });

  it('cover every route of the manifest', () => {
    const committed = readFileSync(committedFile, 'utf8');
    for (const route of ROUTES) expect(committed).toContain(`"${route.path}": {`);
  });
});
