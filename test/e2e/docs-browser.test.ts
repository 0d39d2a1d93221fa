import type { Browser, ElementHandle, HTTPRequest, Page } from 'puppeteer-core';
import type { OpenApiDocument } from '../../shared/http/openapi';
import { launchChromium } from '../fixtures/browser';
import { api, localStack } from '../fixtures/stack';

/**
 * /docs in a real browser: Swagger UI loads from the gateway alone, renders
 * every operation of the served document (read here, so routes added later
 * are checked too), and "try it" with the internal key reaches the API.
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

async function authorizeWithInternalKey(key: string): Promise<void> {
  await page.click('.auth-wrapper .authorize');
  await page.waitForSelector('.modal-ux .auth-container');
  for (const container of await page.$$('.modal-ux .auth-container')) {
    const scheme = await container.evaluate((el: DomNode) => el.querySelector('h4 code')?.textContent);
    if (scheme !== 'InternalApiKey') continue;
    const input = await container.$('input');
    if (!input) throw new Error('the InternalApiKey form has no input');
    await input.type(key);
    await (await container.$('button.authorize'))?.click();
    // Applied: the form now offers to log out instead.
    await container.waitForSelector('button.authorize', { hidden: true });
    await page.click('.modal-ux .close-modal');
    await page.waitForSelector('.modal-ux', { hidden: true });
    return;
  }
  throw new Error('the Authorize dialog offers no InternalApiKey scheme');
}

beforeAll(async () => {
  const served = await api('/openapi.json');
  expect(served.status).toBe(200);
  doc = served.body as OpenApiDocument;

  const gateway = new URL(localStack().gatewayUrl).origin;
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
    if (new URL(url).origin !== gateway) {
      foreignRequests.push(url);
      return void req.abort();
    }
    if (!url.startsWith(`${gateway}/docs`) && !url.startsWith(`${gateway}/openapi.json`)) {
      sentToApi.push({ method: req.method(), url, headers: req.headers(), body: req.postData() });
    }
    return void req.continue();
  });
  await page.goto(`${gateway}/docs`, { waitUntil: 'load' });
  await page.waitForSelector('.opblock');
}, 30_000);

afterAll(async () => {
  await browser?.close();
});

describe('/docs in headless Chromium', () => {
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
    const { internalApiKey, gatewayUrl, demoUser } = localStack();
    if (!demoUser || !('email' in demoUser)) throw new Error(`demo user not seeded: ${JSON.stringify(demoUser)}`);
    await authorizeWithInternalKey(internalApiKey);

    const block = await operationBlock('post', '/v1/premium/check');
    await (await block.$('.opblock-summary-control'))?.click();
    await (await block.waitForSelector('.try-out__btn'))?.click();
    const body = await block.waitForSelector('textarea.body-param__text');
    // Replace the example body as a person would (select all, paste): one input event, not one per key.
    await body?.focus();
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.sendCharacter(JSON.stringify({ email: `  ${demoUser.email.toUpperCase()} ` }));
    await (await block.$('button.execute'))?.click();

    const status = await block.waitForSelector('.live-responses-table tr.response .response-col_status');
    expect(await status?.evaluate((el: DomNode) => el.textContent.trim())).toBe('200');
    const shown = await block.$eval('.live-responses-table tr.response .response-col_description', (el: DomNode) => el.textContent as string);
    // The page shows the API's answer: the email normalised, premium through the demo user's admin override.
    expect(shown).toContain(`"email": "${demoUser.email}"`);
    expect(shown).toContain('"premium": true');

    // It was a real call to the gateway that served the page, with the key.
    const call = sentToApi.find((r) => r.method === 'POST' && r.url === `${gatewayUrl}/v1/premium/check`);
    expect(call?.headers['x-api-key']).toBe(internalApiKey);
    expect(JSON.parse(call?.body ?? '{}')).toEqual({ email: `  ${demoUser.email.toUpperCase()} ` });
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 45_000);
});
