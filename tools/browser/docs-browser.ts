/**
 * The API docs in a real browser: Debian's Chromium, driven by playwright-core,
 * against the built service (`node dist/main.js`, production settings, the
 * project's own database launcher), all on loopback.
 *
 *  - /docs (Swagger UI) loads with no console error and no request for
 *    anything but the service itself (every other request is refused and
 *    counted, so nothing leaves the machine);
 *  - "Try it out": create an organization, log in, authorize with the token
 *    and read the owner view, each answered as documented;
 *  - /redoc renders every operation of the OpenAPI document.
 *
 *   npm run docs:browser [-- --chromium /usr/bin/chromium] [--screenshots DIR]
 *
 * Prints each check; the last line is a summary.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { check, checksPassed } from '../lib/check';
import { startServiceWithDatabase } from '../lib/service';

const { values: args } = parseArgs({
  options: {
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    screenshots: { type: 'string' },
  },
});

/** Chromium quiet on a closed network: no background, component or sync traffic. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Everything the page said or asked for that a docs page must not. */
class PageWatch {
  readonly consoleErrors: string[] = [];
  readonly offMachine: string[] = [];

  constructor(context: BrowserContext, origin: string) {
    void context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url === origin) return route.continue();
      this.offMachine.push(url);
      return route.abort('blockedbyclient');
    });
  }

  attach(page: Page): void {
    page.on('console', (message) => {
      if (message.type() === 'error') this.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => this.consoleErrors.push(`uncaught: ${error.message}`));
  }
}

/** One Swagger UI operation, expanded and in "Try it out" mode. */
async function tryOut(page: Page, method: string, path: string): Promise<Locator> {
  const block = page
    .locator(`.opblock.opblock-${method}`)
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) })
    .first();
  await block.locator('.opblock-summary').first().click();
  await block.getByRole('button', { name: 'Try it out' }).click();
  return block;
}

/** Executes an expanded operation; the live response's status and JSON body. */
async function execute(block: Locator): Promise<{ status: number; body: unknown }> {
  await block.getByRole('button', { name: 'Execute' }).click();
  const response = block.locator('.live-responses-table .response').first();
  await response.waitFor({ timeout: 30_000 });
  const status = Number((await response.locator('.response-col_status').innerText()).trim());
  const text = await response.locator('.response-col_description pre').first().innerText();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status, body };
}

async function swaggerUi(page: Page, base: string, shots?: string): Promise<void> {
  await page.goto(`${base}/docs`, { waitUntil: 'networkidle' });
  await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
  const operations = await page.locator('.swagger-ui .opblock').count();
  check(operations > 5, `Swagger UI renders the operations (${operations})`);

  const tag = randomBytes(3).toString('hex');
  const org = {
    organization_name: `Browser ${tag}`,
    email: `owner-${tag}@example.test`,
    password: 'correct horse battery staple',
  };

  const create = await tryOut(page, 'post', '/org/create');
  await create.locator('textarea.body-param__text').fill(JSON.stringify(org));
  const created = await execute(create);
  check(
    created.status === 201 &&
      (created.body as { database_name?: string })?.database_name !== undefined,
    'Try it out: POST /org/create answers 201 with the owner view',
    created,
  );

  const login = await tryOut(page, 'post', '/admin/login');
  await login
    .locator('textarea.body-param__text')
    .fill(JSON.stringify({ email: org.email, password: org.password }));
  const loggedIn = await execute(login);
  const token = (loggedIn.body as { access_token?: string })?.access_token;
  check(
    loggedIn.status === 200 && typeof token === 'string',
    'Try it out: POST /admin/login answers 200 with a token',
    loggedIn.status,
  );

  await page.locator('.auth-wrapper .authorize').first().click();
  const dialog = page.locator('.modal-ux');
  await dialog.locator('input[type="text"], input[type="password"]').first().fill(token!);
  await dialog.getByRole('button', { name: 'Apply credentials' }).click();
  await dialog.getByRole('button', { name: 'Remove authorization' }).waitFor();
  await dialog.locator('button.btn-done').first().click();
  check(
    (await page.locator('.auth-wrapper .authorize.locked').count()) > 0,
    'Authorize: the bearer token is accepted (the padlock closes)',
  );

  const get = await tryOut(page, 'get', '/org/get');
  await get.locator('input[placeholder="organization_name"]').fill(org.organization_name);
  const read = await execute(get);
  const view = read.body as { database_name?: string; admin?: { email?: string } };
  check(
    read.status === 200 &&
      view?.database_name === (created.body as { database_name: string }).database_name &&
      view?.admin?.email === org.email,
    'Try it out: GET /org/get with the token answers 200 with the owner view',
    read,
  );
  if (shots) await page.screenshot({ path: join(shots, 'swagger-ui.png'), fullPage: false });
}

async function redoc(page: Page, base: string, shots?: string): Promise<void> {
  const document = (await (await fetch(`${base}/docs-json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
  const expected = Object.values(document.paths).reduce(
    (n, item) => n + Object.keys(item).filter((m) => methods.has(m)).length,
    0,
  );
  await page.goto(`${base}/redoc`, { waitUntil: 'networkidle' });
  const operations = page.locator('[data-section-id^="operation/"]');
  await operations.first().waitFor({ timeout: 60_000 });
  const rendered = await operations.count();
  check(
    rendered === expected,
    `ReDoc renders every operation of the OpenAPI document (${rendered} of ${expected})`,
    { rendered, expected },
  );
  if (shots) await page.screenshot({ path: join(shots, 'redoc.png'), fullPage: false });
}

async function main(): Promise<void> {
  const service = await startServiceWithDatabase({ log: (m) => console.log(`[db] ${m}`) });
  const profile = mkdtempSync(join(tmpdir(), 'docs-browser-'));
  const shots = args.screenshots ? resolve(args.screenshots) : undefined;
  if (shots) mkdirSync(shots, { recursive: true });
  let context: BrowserContext | undefined;
  try {
    // A fresh profile (user data dir) for every run.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: args.chromium,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    const watch = new PageWatch(context, service.url);
    const page = context.pages()[0] ?? (await context.newPage());
    watch.attach(page);
    console.log(`Chromium ${context.browser()?.version() ?? ''} on ${service.url}`);

    await swaggerUi(page, service.url, shots);
    await redoc(page, service.url, shots);

    check(
      watch.consoleErrors.length === 0,
      'no console errors on /docs or /redoc',
      watch.consoleErrors,
    );
    check(
      watch.offMachine.length === 0,
      'no request for anything but the service itself',
      watch.offMachine,
    );
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    await service.stop();
  }
}

main().then(
  () => console.log(`docs-browser: summary: all ${checksPassed()} checks passed`),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    console.log(`docs-browser: summary: FAILED after ${checksPassed()} checks`);
    process.exitCode = 1;
  },
);
