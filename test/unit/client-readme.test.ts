import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';

/**
 * The client examples in the README and the client's README compile against
 * the client as it is: a renamed helper or a changed answer type (after
 * `npm run client`) fails here instead of in a reader's editor.
 */

const ROOT = join(__dirname, '..', '..');

/** The names the examples leave to the reader's app. */
const APP_CONTEXT = `
declare const user: { id: string; email: string };
declare const requestId: string;
declare const tokensUsed: number;
declare const reply: { status(code: number): { send(body: unknown): unknown }; header(name: string, value: string): unknown };
declare const auth: { currentAccessToken(): string | Promise<string> };
declare function summariseWithLlm(text: string): Promise<{ text: string; tokens: number }>;
`;

function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
}

function clientExamples(): Array<[string, string]> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Typed client\n'), readme.indexOf('\n## ', readme.indexOf('\n## Typed client\n') + 1));
  const clientReadme = readFileSync(join(ROOT, 'clients', 'typescript', 'README.md'), 'utf8');
  return [
    ...typescriptBlocks(section).map((code, i): [string, string] => [`README.md, Typed client, example ${i + 1}`, code]),
    ...typescriptBlocks(clientReadme).map((code, i): [string, string] => [`clients/typescript/README.md, example ${i + 1}`, code]),
  ];
}

/** Type errors of `code` compiled as an ES module beside the tests, with the repository's compiler options. */
function typeErrors(code: string): string[] {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const file = join(ROOT, 'test', 'unit', '__readme-example__.mts');
  const source = `${code}\n${APP_CONTEXT}`;
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language, true) : getSourceFile.call(host, name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], { ...options, noEmit: true }, host);
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(file))
    .map((d) => `${d.start !== undefined && d.file ? `line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('README examples of the typed client', () => {
  const examples = clientExamples();

  it('are found (the Typed client section and the client README)', () => {
    expect(examples.map(([where]) => where)).toEqual([
      'README.md, Typed client, example 1',
      'clients/typescript/README.md, example 1',
      'clients/typescript/README.md, example 2',
    ]);
  });

  it.each(examples)('%s compiles against the client', (_where, code) => {
    expect(code).toContain("from '@entitlements-backend/client'");
    expect(typeErrors(code)).toEqual([]);
  });
});
