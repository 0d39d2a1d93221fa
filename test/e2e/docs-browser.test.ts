import type { Browser, ElementHandle, HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import type { OpenApiDocument } from '../../shared/http/openapi';
import { launchChromium } from '../fixtures/browser';
import { signUpAndSignIn } from '../fixtures/cognito';
import { api, localStack } from '../fixtures/stack';

/**
 * /docs in a real browser: Swagger UI loads from the gateway alone, renders
 * every operation of the served document (read here, so routes added later
 * are checked too), and "try it", authorised once with the internal key or a
 * Cognito access token, reaches the API. The page is opened as `localhost`
 * while the document names 127.0.0.1 (another origin), as a developer
 * typing the address might: its calls must still go to its own origin.
 */

interface RenderedOperation {
  id: string;
  method: string;
  path: string;
  summary: string;
}

/** Element handles typed loosely: the project compiles without the DOM lib. */
type DomNode = any;

let browser: Browser;
let page: Page;
let doc: OpenApiDocument;
let pageOrigin: string;
let docsResponse: HTTPResponse | null;
const foreignRequests: string[] = [];
const sentToApi: { method: string; url: string; headers: Record<string, string>; body: string | undefined }[] = [];
const pageErrors: string[] = [];

async function operationBlock(method: string, path: string): Promise<ElementHandle> {
  for (const block of await page.$$('.opblock')) {
    const rendered = await block.evaluate((el: DomNode) => ({
      method: el.querySelector('.opblock-summary-method')?.textContent,
      path: el.querySelector('.opblock-summary-path')?.getAttribute('data-path'),
    }));
    if (rendered.method === method.toUpperCase() && rendered.path === path) return block;
  }
  throw new Error(`no rendered operation ${method} ${path}`);
}

/** Swagger UI's Authorize dialog, as a developer uses it: the value into one scheme's form, Authorize, close. */
async function authorize(scheme: 'InternalApiKey' | 'CognitoAccessToken', value: string): Promise<void> {
  await page.click('.auth-wrapper .authorize');
  await page.waitForSelector('.modal-ux .auth-container');
  for (const container of await page.$$('.modal-ux .auth-container')) {
    const offered = await container.evaluate((el: DomNode) => el.querySelector('h4 code')?.textContent);
    if (offered !== scheme) continue;
    const input = await container.$('input');
    if (!input) throw new Error(`the ${scheme} form has no input`);
    await input.focus();
    await page.keyboard.sendCharacter(value);
    await (await container.$('button.authorize'))?.click();
    // Applied: the form now offers to log out instead.
    await container.waitForSelector('button.authorize', { hidden: true });
    await page.click('.modal-ux .close-modal');
    await page.waitForSelector('.modal-ux', { hidden: true });
    return;
  }
  throw new Error(`the Authorize dialog offers no ${scheme} scheme`);
}

/** Expands an operation, "Try it out", optionally replaces the body, "Execute"; answers what the page shows. */
async function tryIt(method: string, path: string, body?: unknown): Promise<{ status: string; shown: string }> {
  const block = await operationBlock(method, path);
  await (await block.$('.opblock-summary-control'))?.click();
  await (await block.waitForSelector('.try-out__btn'))?.click();
  if (body !== undefined) {
    // Replace the example body as a person would (select all, paste): one input event, not one per key.
    await (await block.waitForSelector('textarea.body-param__text'))?.focus();
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.sendCharacter(JSON.stringify(body));
  }
  await (await block.$('button.execute'))?.click();
  const status = await block.waitForSelector('.live-responses-table tr.response .response-col_status');
  return {
    status: (await status?.evaluate((el: DomNode) => el.textContent.trim())) as string,
    shown: await block.$eval('.live-responses-table tr.response .response-col_description', (el: DomNode) => el.textContent as string),
  };
}

beforeAll(async () => {
  const served = await api('/openapi.json');
  expect(served.status).toBe(200);
  doc = served.body as OpenApiDocument;

  const gateway = new URL(localStack().gatewayUrl);
  expect(gateway.hostname).toBe('127.0.0.1');
  pageOrigin = `http://localhost:${gateway.port}`;
  browser = await launchChromium();
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (msg) => {
    // Content-Security-Policy refusals and failed loads are console errors.
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  await page.setRequestInterception(true);
  page.on('request', (req: HTTPRequest) => {
    const url = req.url();
    if (url.startsWith('data:')) return void req.continue();
    if (new URL(url).origin !== pageOrigin) {
      foreignRequests.push(url);
      return void req.abort();
    }
    if (!url.startsWith(`${pageOrigin}/docs`) && !url.startsWith(`${pageOrigin}/openapi.json`)) {
      sentToApi.push({ method: req.method(), url, headers: req.headers(), body: req.postData() });
    }
    return void req.continue();
  });
  docsResponse = await page.goto(`${pageOrigin}/docs`, { waitUntil: 'load' });
  await page.waitForSelector('.opblock');
}, 30_000);

afterAll(async () => {
  await browser?.close();
});

describe('/docs in headless Chromium', () => {
  it('is served with the Content-Security-Policy the browser enforced (no console refusal means it held, not that it was absent)', () => {
    expect(docsResponse?.status()).toBe(200);
    const policy = docsResponse?.headers()['content-security-policy'];
    expect(policy).toMatch(/default-src 'none'/);
    expect(policy).toMatch(/connect-src 'self'/);
  });

  it('renders every operation of the served document, from gateway assets only', async () => {
    const rendered: RenderedOperation[] = await page.$$eval('.opblock', (blocks: DomNode[]) =>
      blocks.map((el: DomNode) => ({
        id: el.id,
        method: el.querySelector('.opblock-summary-method')?.textContent ?? '',
        path: el.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '',
        summary: el.querySelector('.opblock-summary-description')?.textContent ?? '',
      })),
    );

    const expected = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ id: `operations-${op.tags[0]}-${op.operationId}`, method: method.toUpperCase(), path, summary: op.summary })),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(rendered).toHaveLength(expected.length);
    for (const operation of expected) expect(rendered).toContainEqual(operation);

    // The document's security schemes are offered for "try it".
    await expect(page.$('.auth-wrapper .authorize')).resolves.not.toBeNull();
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('"try it": authorised once with the internal key, POST /v1/premium/check answers in the page', async () => {
    const { internalApiKey, demoUser } = localStack();
    if (!demoUser || !('email' in demoUser)) throw new Error(`demo user not seeded: ${JSON.stringify(demoUser)}`);
    await authorize('InternalApiKey', internalApiKey);

    const sent = { email: `  ${demoUser.email.toUpperCase()} ` };
    const { status, shown } = await tryIt('post', '/v1/premium/check', sent);
    expect(status).toBe('200');
    // The API's answer, shown in the page: the email normalised, premium through the demo user's admin override.
    expect(shown).toContain(`"email": "${demoUser.email}"`);
    expect(shown).toContain('"premium": true');

    // A real call to the gateway that served the page (its own origin), with the key.
    const call = sentToApi.find((r) => r.method === 'POST' && r.url === `${pageOrigin}/v1/premium/check`);
    expect(call?.headers['x-api-key']).toBe(internalApiKey);
    expect(JSON.parse(call?.body ?? '{}')).toEqual(sent);
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 45_000);

  it('"try it": authorised with a Cognito access token, GET /me/entitlements answers for that user', async () => {
    const user = await signUpAndSignIn('docs');
    await authorize('CognitoAccessToken', user.accessToken);

    const { status, shown } = await tryIt('get', '/me/entitlements');
    expect(status).toBe('200');
    expect(shown).toContain(`"userId": "${user.sub}"`);

    const call = sentToApi.find((r) => r.method === 'GET' && r.url === `${pageOrigin}/me/entitlements`);
    expect(call?.headers.authorization).toBe(`Bearer ${user.accessToken}`);
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 45_000);
});
