// End-to-end test of the merchant console in Debian's headless Chromium: the owner signs in at
// /admin, changes the earning rule, adds a shop and invites a cashier there; the cashier sets her
// password from the invitation e-mail; the owner publishes a card design with an uploaded logo,
// creates a promo campaign, finds a new member and adjusts their points; the new cashier records
// a purchase at the till, which earns under the new rule; members are scored into RFM segments,
// and the insights page draws the week. Each step saves a screenshot and checks
// the text on the page. Exits non-zero on the first failed check.
//
//   node tests/browser/console.mjs BASE_URL MAIL_DIR SCREENSHOT_DIR
//
// or E2E_BASE_URL, E2E_MAIL_DIR, E2E_SCREENSHOT_DIR. In the environment: E2E_OWNER_PASSWORD (the
// demo password of owner@demo.test), E2E_CASHIER_EMAIL and E2E_CASHIER_PASSWORD (the cashier to
// invite and the password she chooses), E2E_CUSTOMER_EMAIL (the customer to enrol), and
// E2E_SKIP_DESIGN=1 to leave out the card design step. Run by tests/api/browser.rs.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

import { browserTest, check, expectStatus, passed, scriptArgs } from './lib.mjs';

const { base: BASE, mailDir: MAIL_DIR, shotDir: SHOT_DIR, chromium: CHROMIUM } = scriptArgs();
const OWNER_EMAIL = process.env.E2E_OWNER_EMAIL ?? 'owner@demo.test';
const OWNER_PASSWORD = process.env.E2E_OWNER_PASSWORD;
const CASHIER_EMAIL = process.env.E2E_CASHIER_EMAIL ?? 'lea@demo.test';
const CASHIER_PASSWORD = process.env.E2E_CASHIER_PASSWORD;
const CUSTOMER_EMAIL = process.env.E2E_CUSTOMER_EMAIL;
const SKIP_DESIGN = process.env.E2E_SKIP_DESIGN === '1';
if (!BASE || !MAIL_DIR || !SHOT_DIR || !OWNER_PASSWORD || !CASHIER_PASSWORD || !CUSTOMER_EMAIL) {
  console.error(
    'usage: node console.mjs BASE_URL MAIL_DIR SCREENSHOT_DIR (and E2E_OWNER_PASSWORD, E2E_CASHIER_PASSWORD, ' +
      'E2E_CUSTOMER_EMAIL in the environment)',
  );
  process.exit(2);
}

// The owner works at a desk; the cashier and the customer on phones.
const DESKTOP = { width: 1280, height: 800 };
const SMALL_PHONE = { width: 360, height: 740 };
const PHONE = { width: 390, height: 844 };
const PHONE_SCALE = 2;
const TIMEOUT_MS = 10_000;
const SHOP = 'Lyon Part-Dieu';
const CUSTOMER_NAME = 'Camille';

// Screenshots named as the steps name them (c01-login.png, ...), each checked to be a PNG of the
// page's viewport in device pixels (1 a CSS pixel unless the step says PHONE_SCALE).
const { expectText, expectVisible, expectAbsent, submit, goto, screenshot, linkFromMail, runInChromium } = browserTest({
  shotDir: SHOT_DIR,
  mailDir: MAIL_DIR,
  timeoutMs: TIMEOUT_MS,
});

async function expectValue(page, selector, want, what = selector) {
  const value = await page.inputValue(selector);
  check(value === want, `${what} should be ${JSON.stringify(want)}, is ${JSON.stringify(value)} (${page.url()})`);
}

// The path (and query) of the page, checked against a RegExp.
function expectPath(page, want, what) {
  const url = new URL(page.url());
  const path = url.pathname + url.search;
  check(want.test(path), `${what}: the browser should be at ${want}, is at ${path}`);
  return path;
}

// --- A PNG of our own, for the logo upload ------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
// A width×height RGBA image of one colour (8 bits a channel, no interlace), as PNG bytes.
function solidPng(width, height, [r, g, b, a]) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type 6 (RGBA), deflate, filter 0, no interlace
  const row = Buffer.alloc(1 + width * 4); // filter byte 0 (none), then the pixels
  for (let x = 0; x < width; x += 1) row.set([r, g, b, a], 1 + x * 4);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// --- The steps ----------------------------------------------------------------------------------

async function run(browser, scratch) {
  const phone = { viewport: PHONE, deviceScaleFactor: PHONE_SCALE, isMobile: true, hasTouch: true, locale: 'en-US' };

  // 1. The owner signs in. The browser asks for French: English comes from ?lang=en alone, and
  // stays for the next pages by its cookie.
  const ownerContext = await browser.newContext({ viewport: DESKTOP, locale: 'fr-FR' });
  ownerContext.setDefaultTimeout(TIMEOUT_MS);
  const owner = await ownerContext.newPage();
  expectStatus(await goto(owner, `${BASE}/admin/login?lang=en`), 200, 'GET /admin/login?lang=en should answer 200');
  await expectText(owner, 'h1', 'Sign in to the console', 'the sign-in title');
  await owner.fill('#email', OWNER_EMAIL);
  await owner.fill('#password', 'not the password');
  expectStatus(await submit(owner, '#login-submit'), 401, 'a wrong password should answer 401');
  await expectText(owner, '#login-error', 'Wrong e-mail or password.');
  await expectValue(owner, '#email', OWNER_EMAIL, 'the e-mail kept after a refusal');
  await owner.fill('#password', OWNER_PASSWORD);
  await screenshot(owner, 'c01-login');
  expectStatus(await submit(owner, '#login-submit'), 200, 'signing in should land on a page');
  expectPath(owner, /^\/admin$/, 'after signing in');
  await expectText(owner, 'h1', 'Today in your programme', 'the home title (in English, by the lang cookie)');
  await expectText(owner, '#today-new-members', '0', 'new members today');
  await expectText(owner, '#nav-home[aria-current=page]', 'Home', 'the current section');
  await screenshot(owner, 'c01-home');
  await owner.setViewportSize(SMALL_PHONE);
  await expectVisible(owner, '#figures-today');
  const wide = await owner.evaluate(() => document.documentElement.scrollWidth);
  await screenshot(owner, 'c01-home-360');
  check(wide <= SMALL_PHONE.width, `the console home should fit 360 px without scrolling sideways, is ${wide} px wide`);
  await owner.setViewportSize(DESKTOP);
  passed(`1. ${OWNER_EMAIL} signs in (a wrong password refused), the home page in English fits 360 px (${wide} px)`);

  // 2. The earning rule: 2 points per 1.00 EUR, rounded down. The example follows the fields as
  // they are typed (admin.js), before anything is saved.
  expectStatus(await goto(owner, `${BASE}/admin/program`), 200, 'GET /admin/program should answer 200');
  await expectValue(owner, '#earn_points', '1', 'the demo earning rule');
  await expectText(owner, '#earn-example', 'Example: €12.50 → 12 points', 'the example of the saved rule');
  await owner.selectOption('#earn_rounding', 'up');
  await owner.fill('#earn_per', '1.00');
  await owner.fill('#earn_points', '1');
  await expectText(owner, '#earn-example', 'Example: €12.50 → 13 points', 'the live example, rounded up');
  await owner.fill('#earn_points', '2');
  await owner.selectOption('#earn_rounding', 'down');
  await expectText(owner, '#earn-example', 'Example: €12.50 → 25 points', 'the live example of 2 points per 1.00');
  await screenshot(owner, 'c02-earning-live');
  expectStatus(await submit(owner, '#settings-save'), 200, 'saving the settings should land on a page');
  expectPath(owner, /^\/admin\/program\?done=saved$/, 'after saving the settings');
  await expectText(owner, '#flash', 'Saved.', 'the flash after saving');
  await expectAbsent(owner, '#settings-error', 'a refusal of the settings');
  await expectValue(owner, '#earn_points', '2', 'the saved points');
  await expectValue(owner, '#earn_per', '1.00', 'the saved amount');
  await expectValue(owner, '#earn_rounding', 'down', 'the saved rounding');
  await expectText(owner, '#earn-example', 'Example: €12.50 → 25 points', 'the example of the saved rule');
  await screenshot(owner, 'c02-earning-saved');
  passed('2. the earning rule is 2 points per €1.00 rounded down; the example said → 25 points before saving');

  // 3. A shop, and a cashier invited to it.
  expectStatus(await goto(owner, `${BASE}/admin/shops`), 200, 'GET /admin/shops should answer 200');
  await owner.fill('#new-shop-name', SHOP);
  await owner.fill('#new-shop-address', 'Centre commercial Part-Dieu, 69003 Lyon');
  expectStatus(await submit(owner, '#shop-add'), 200, 'adding a shop should land on a page');
  await expectText(owner, '#flash', 'Saved.', 'the flash after adding the shop');
  await expectAbsent(owner, '#shops-error', 'a refusal of the new shop');
  const names = await owner.locator('#shops input[name=name]').evaluateAll((inputs) => inputs.map((i) => i.value));
  check(names.includes('Demo Café – Centre') && names.includes(SHOP), `the shops should be the centre and ${SHOP}, are ${JSON.stringify(names)}`);
  const shopOption = owner.locator('#invite-shop option', { hasText: SHOP });
  check((await shopOption.count()) === 1, `the invitation's shop list should offer ${SHOP}`);
  await owner.fill('#invite-email', CASHIER_EMAIL);
  await owner.selectOption('#invite-role', 'cashier');
  await owner.selectOption('#invite-shop', { label: SHOP });
  await screenshot(owner, 'c03-invite');
  expectStatus(await submit(owner, '#invite-send'), 200, 'sending the invitation should land on a page');
  await expectText(owner, '#flash', 'Saved.', 'the flash after the invitation');
  await expectAbsent(owner, '#staff-error', 'a refusal of the invitation');
  const invited = owner.locator('#staff tbody tr', { hasText: CASHIER_EMAIL });
  check((await invited.count()) === 1, `the staff list should have one row for ${CASHIER_EMAIL}`);
  await expectText(owner, `#staff tbody tr:has-text("${CASHIER_EMAIL}") .badge`, 'invited', `${CASHIER_EMAIL}'s status`);
  const role = await invited.locator('select[name=role]').inputValue();
  check(role === 'cashier', `${CASHIER_EMAIL} should be a cashier, is ${role}`);
  const shopOfRow = await invited.locator('select[name=location_id] option:checked').textContent();
  check(shopOfRow === SHOP, `${CASHIER_EMAIL} should work at ${SHOP}, works at ${shopOfRow}`);
  await invited.scrollIntoViewIfNeeded();
  await screenshot(owner, 'c03-invited');
  passed(`3. ${SHOP} added; ${CASHIER_EMAIL} invited as a cashier there`);

  // 4. The invitation e-mail, opened on the cashier's phone: she chooses her password and lands
  // at the till.
  const invitation = await linkFromMail(CASHIER_EMAIL, /https?:\/\/[^\s"'<>]+\/admin\/invitation\/[A-Za-z0-9._~-]+/, 'an invitation link');
  check(invitation.link.startsWith(`${BASE}/admin/invitation/`), `the invitation link ${invitation.link} should be on ${BASE}`);
  check(
    /^(You are invited to the Demo Café console|Vous êtes invité\(e\) sur la console Demo Café)$/.test(invitation.subject),
    `the invitation's subject should invite to the Demo Café console, is ${JSON.stringify(invitation.subject)}`,
  );
  passed(`4. the invitation e-mail ${invitation.path} ("${invitation.subject}") links to the invitation page`);
  const cashierContext = await browser.newContext(phone);
  cashierContext.setDefaultTimeout(TIMEOUT_MS);
  const cashier = await cashierContext.newPage();
  expectStatus(await goto(cashier, invitation.link), 200, 'the invitation link should answer 200');
  await expectText(cashier, 'h1', 'Choose your password', 'the invitation page title');
  await cashier.fill('#password', CASHIER_PASSWORD);
  await cashier.fill('#password_again', `${CASHIER_PASSWORD}!`);
  expectStatus(await submit(cashier, '#invitation-submit'), 422, 'two different passwords should answer 422');
  await expectText(cashier, '#invitation-error', 'The two passwords differ.');
  await cashier.fill('#password', CASHIER_PASSWORD);
  await cashier.fill('#password_again', CASHIER_PASSWORD);
  await screenshot(cashier, 'c04-invitation', PHONE_SCALE);
  expectStatus(await submit(cashier, '#invitation-submit'), 200, 'setting the password should land on a page');
  expectPath(cashier, /^\/staff$/, 'a cashier who set her password');
  await expectVisible(cashier, '#login-email', 'the till sign-in');
  await screenshot(cashier, 'c04-staff', PHONE_SCALE);
  expectStatus(await goto(cashier, invitation.link), 410, 'the invitation link, once used, should answer 410');
  await expectText(cashier, '#invitation-error', 'This invitation was already used or replaced: ask for a new one.');
  await expectAbsent(cashier, '#invitation-submit', 'the password form of a used invitation');
  passed(`4. ${CASHIER_EMAIL} set her password (a mismatch refused) and lands on /staff; the link then answers 410`);

  // 5. The card design: colours, a logo of our own, a draft with its preview, then published.
  if (SKIP_DESIGN) {
    passed('5. the card design step is skipped (E2E_SKIP_DESIGN=1)');
  } else {
    const logo = join(scratch, 'logo.png');
    writeFileSync(logo, solidPng(480, 150, [200, 30, 60, 255]));
    expectStatus(await goto(owner, `${BASE}/admin/design`), 200, 'GET /admin/design should answer 200');
    await expectText(owner, '#nav-design[aria-current=page]', 'Card design', 'the current section');
    await owner.fill('#background_color', '#1e3a5f');
    await owner.fill('#foreground_color', '#ffffff');
    await owner.fill('#label_color', '#ffd166');
    await owner.fill('#logo_text', 'Café Lyon');
    await owner.setInputFiles('#logo', logo);
    expectStatus(await submit(owner, '#design-save'), 200, 'saving the draft should land on a page');
    expectPath(owner, /^\/admin\/design\?done=saved$/, 'after saving the draft');
    await expectText(owner, '#flash', 'Saved.', 'the flash after saving the draft');
    await expectAbsent(owner, '#design-error', 'a refusal of the design');
    await expectVisible(owner, '#pass-preview', 'the preview of the draft');
    await expectValue(owner, '#background_color', '#1e3a5f', 'the draft background colour');
    await expectValue(owner, '#logo_text', 'Café Lyon', 'the draft logo text');
    await expectText(owner, '#preview-logo-text', 'Café Lyon', 'the logo text in the preview');
    await expectVisible(owner, '#preview-logo', 'the uploaded logo in the preview');
    const shown = await owner.locator('#preview-logo').evaluate(async (img) => {
      await img.decode().catch(() => {});
      return { complete: img.complete, width: img.naturalWidth, height: img.naturalHeight };
    });
    check(shown.complete && shown.width > 0 && shown.width / shown.height > 3, `the preview's logo should load, a wide image like ours (480×150), not the square default, is ${JSON.stringify(shown)}`);
    const background = await owner.locator('#pass-preview .pass.front').evaluate((el) => getComputedStyle(el).backgroundColor);
    check(background === 'rgb(30, 58, 95)', `the preview's front should be the chosen background rgb(30, 58, 95), is ${background}`);
    await expectText(owner, '#unpublished', "This design is not on your customers' cards yet: publish it.", 'the draft notice');
    await owner.locator('#pass-preview').scrollIntoViewIfNeeded();
    await screenshot(owner, 'c05-design-draft');
    expectStatus(await submit(owner, '#design-publish'), 200, 'publishing should land on a page');
    expectPath(owner, /^\/admin\/design\?done=published$/, 'after publishing');
    await expectText(owner, '#flash', 'Design published: every pass is being updated.', 'the flash after publishing');
    await expectAbsent(owner, '#unpublished', 'the draft notice once published');
    await screenshot(owner, 'c05-design-published');
    passed('5. a design with a 480×150 logo saved as a draft (with its preview) and published');
  }

  // 6. A promo campaign with a shared code.
  expectStatus(await goto(owner, `${BASE}/admin/promos`), 200, 'GET /admin/promos should answer 200');
  await owner.fill('#promo-name', 'Noël');
  await owner.selectOption('#promo-kind', 'shared');
  await owner.fill('#promo-code', 'NOEL10');
  await owner.selectOption('#promo-effect', 'bonus_points');
  await owner.fill('#effect-value', '10');
  await screenshot(owner, 'c06-promo-form');
  expectStatus(await submit(owner, '#campaign-create'), 200, 'creating the campaign should land on a page');
  const promoPath = expectPath(owner, /^\/admin\/promos\/[^/?]+\?done=created$/, 'after creating the campaign');
  await expectText(owner, '#flash', 'Campaign created.', 'the flash after creating the campaign');
  await expectText(owner, '#campaign-code', 'NOEL10', "the campaign's code");
  await expectText(owner, '#campaign-status', 'active', "the campaign's status");
  await expectText(owner, '#campaign-uses', '0', "the campaign's uses");
  await expectText(owner, 'dl.facts', /Bonus points: 10/, "the campaign's effect");
  await screenshot(owner, 'c06-promo');
  passed(`6. the campaign NOEL10 (+10 points) is created at ${promoPath.split('?')[0]}`);

  // 7. A customer joins on /p/demo; the owner finds them and gives 30 points.
  const customerContext = await browser.newContext(phone);
  customerContext.setDefaultTimeout(TIMEOUT_MS);
  const customer = await customerContext.newPage();
  expectStatus(await goto(customer, `${BASE}/p/demo`), 200, 'GET /p/demo should answer 200');
  await customer.fill('#first_name', CUSTOMER_NAME);
  await customer.fill('#email', CUSTOMER_EMAIL);
  await customer.check('#consent_terms');
  expectStatus(await submit(customer, '#enrol-submit'), 200, 'the enrolment should answer 200');
  await expectText(customer, '#check-email', `We sent you a link to your card at ${CUSTOMER_EMAIL}.`);
  passed(`7. ${CUSTOMER_EMAIL} enrolled on /p/demo`);

  expectStatus(await goto(owner, `${BASE}/admin/members`), 200, 'GET /admin/members should answer 200');
  await owner.fill('#query', CUSTOMER_EMAIL);
  expectStatus(await submit(owner, '#search'), 200, 'the search should answer 200');
  const results = owner.locator('#results a.member-link');
  check((await results.count()) === 1, `the search for ${CUSTOMER_EMAIL} should find one member, found ${await results.count()}`);
  await expectText(owner, '#results a.member-link', new RegExp(`^${CUSTOMER_NAME} ${CUSTOMER_EMAIL.replace(/[.]/g, '\\.')} \\d{4} \\d{4} \\d{4} · 0 points`), 'the member found');
  await screenshot(owner, 'c07-members');
  expectStatus(await submit(owner, '#results a.member-link'), 200, "the member's page should answer 200");
  expectPath(owner, /^\/admin\/members\/[^/?]+$/, "the member's page");
  await expectText(owner, 'h1', CUSTOMER_NAME, "the member's name");
  await expectText(owner, '#balance', '0', 'the balance of the new member');
  const meta = await expectText(owner, '#summary .meta', /^\d{4} \d{4} \d{4} · active$/, "the member's card");
  const cardNumber = meta.slice(0, 14);
  await owner.fill('#adjust-points', '30');
  await owner.fill('#adjust-reason', 'Welcome gift from the console test');
  expectStatus(await submit(owner, '#adjust-submit'), 200, 'the adjustment should land on a page');
  expectPath(owner, /^\/admin\/members\/[^/?]+\?done=adjust$/, 'after the adjustment');
  await expectText(owner, '#flash', 'Points adjusted.', 'the flash after the adjustment');
  await expectAbsent(owner, '#adjust-error', 'a refusal of the adjustment');
  await expectText(owner, '#balance', '30', 'the balance after the adjustment');
  await expectText(owner, '#ledger tbody tr:first-child td:nth-child(2)', 'Adjustment — Welcome gift from the console test', "the ledger's last entry");
  await expectText(owner, '#ledger tbody tr:first-child td:nth-child(3)', '+30', "the last entry's points");
  await expectText(owner, '#ledger tbody tr:first-child td:nth-child(4)', '30', "the balance after the last entry");
  await screenshot(owner, 'c07-member-adjusted');
  passed(`7. the owner finds ${CUSTOMER_NAME} (card ${cardNumber}) and adjusts +30 points: the balance is 30`);

  // 8. The new cashier at the till: 12.50 EUR earns 25 points under the new rule.
  await cashier.bringToFront();
  expectStatus(await goto(cashier, `${BASE}/staff`), 200, 'GET /staff should answer 200');
  await cashier.fill('#login-email', CASHIER_EMAIL);
  await cashier.fill('#login-password', CASHIER_PASSWORD);
  await cashier.click('#login-submit');
  await expectVisible(cashier, '#card-input', 'the card field after signing in');
  await expectText(cashier, '#who', 'Signed in to Demo Café', 'who is signed in');
  await cashier.fill('#card-input', cardNumber);
  await cashier.click('#card-submit');
  await expectText(cashier, '#card-name', new RegExp(CUSTOMER_NAME), "the customer's first name");
  await expectText(cashier, '#card-balance', '30', "the customer's balance");
  await cashier.fill('#amount', '12.50');
  await cashier.click('#purchase-submit');
  await expectText(cashier, '#result', '+25 points, balance 55', 'the confirmation of the purchase');
  await expectAbsent(cashier, '#error:visible', 'an error after the purchase');
  await expectText(cashier, '#card-balance', '55', 'the balance after the purchase');
  await screenshot(cashier, 'c08-till-purchase', PHONE_SCALE);
  passed(`8. ${CASHIER_EMAIL} signs in at /staff and records 12.50 EUR: +25 points, balance 55`);

  // The console shows it: the member's balance and purchase, and today's figures.
  check((await owner.reload({ waitUntil: 'load' }))?.status() === 200, "reloading the member's page should answer 200");
  await expectText(owner, '#balance', '55', 'the balance in the console after the purchase');
  await expectText(owner, '#purchases li', /€12\.50 \+25 · /, 'the purchase in the console');
  expectStatus(await goto(owner, `${BASE}/admin`), 200, 'GET /admin should answer 200');
  await expectText(owner, '#today-new-members', '1', 'new members today');
  await expectText(owner, '#today-purchases', '1', 'purchases today');
  await screenshot(owner, 'c08-home-after');
  passed('8. the console shows 55 points and the purchase on the member, 1 new member and 1 purchase today');

  // 9. Segments: twelve members who consented to profiling buy (through the API, as a till
  // would); the owner asks for the scoring and reads the grid, drawn without JavaScript.
  const api = async (path, token, body, key) => {
    const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(key ? { 'idempotency-key': key } : {}) };
    const response = await fetch(`${BASE}/api/v1${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    check(response.ok, `POST ${path} should succeed, answered ${response.status}: ${await response.clone().text()}`);
    return response.json();
  };
  const { token } = await api('/auth/login', null, { email: OWNER_EMAIL, password: OWNER_PASSWORD });
  for (let k = 0; k < 12; k += 1) {
    const enrolled = await api('/customers', token, { email: `rfm-${k}@segments.example.com`, first_name: `Member${k}`, consents: { terms: true, profiling: true } });
    for (let n = 0; n <= k % 4; n += 1) {
      await api('/purchases', token, { card: enrolled.card.number, amount_cents: 500 + 700 * k, currency: 'EUR' }, `rfm-${k}-${n}`);
    }
  }
  expectStatus(await goto(owner, `${BASE}/admin/segments`), 200, 'GET /admin/segments should answer 200');
  expectStatus(await submit(owner, '#run-rfm'), 200, 'asking for the scoring should land on a page');
  expectPath(owner, /^\/admin\/segments\?done=rfm_queued$/, 'after asking for the scoring');
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await owner.locator('#members-scored').count()) || (await owner.textContent('#members-scored')).trim() !== '12') {
    check(Date.now() < deadline, 'the scoring should be done within 10 s');
    await owner.waitForTimeout(200);
    await owner.reload({ waitUntil: 'load' });
  }
  await expectText(owner, '#members-buying', '13', 'members who bought (the scored twelve and Camille)');
  await expectText(owner, '#without-consent', /^1 member who bought did not consent to profiling/, 'the member without consent');
  const cells = await owner.locator('#rfm-grid svg rect').count();
  check(cells === 25, `the grid should draw 25 cells, drew ${cells}`);
  const counted = await owner.$$eval('#rfm-grid-table td', (tds) => tds.reduce((sum, td) => sum + parseInt(td.textContent, 10), 0));
  check(counted === 12, `the cells of the table should add up to the 12 scored members, add up to ${counted}`);
  await owner.locator('#rfm-grid').scrollIntoViewIfNeeded();
  await screenshot(owner, 'c09-segments');
  passed('9. the owner scores the members: 12 scored in the R×FM grid, 1 without consent counted apart');

  // 10. Insights: the week's KPIs drawn as charts with their numbers in tables, the same as the
  // API's; the charts are SVG from the server, so they show with nothing run in the page.
  const kpis = await (await fetch(`${BASE}/api/v1/insights/kpis?granularity=week`, { headers: { authorization: `Bearer ${token}` } })).json();
  const week = kpis.periods[kpis.periods.length - 1];
  check(week.active_members >= 13 && week.purchases >= 31, `this week's figures should count the members who bought, got ${JSON.stringify(week)}`);
  expectStatus(await goto(owner, `${BASE}/admin/insights?granularity=week`), 200, 'GET /admin/insights should answer 200');
  const bars = await owner.locator('#chart-members rect').count();
  check(bars === 2 * kpis.periods.length, `the members chart should draw 2 bars a week, drew ${bars}`);
  const tallest = await owner.locator('#chart-members rect').last().boundingBox();
  check(tallest && tallest.height > 20, `this week's bar should be drawn tall, got ${JSON.stringify(tallest)}`);
  for (const key of ['active_members', 'purchases', 'new_members']) {
    await expectText(owner, `#members-table tbody tr:last-child td[data-k="${key}"]`, String(week[key]), `this week's ${key} in the table`);
  }
  await expectText(owner, `#points-table tbody tr:last-child td[data-k="points_issued"]`, String(week.points_issued), "this week's points issued");
  await expectVisible(owner, '#roi-basket', 'the ROI panel');
  await owner.locator('#chart-members').scrollIntoViewIfNeeded();
  await screenshot(owner, 'c10-insights');
  passed(`10. the insights page draws this week: ${week.active_members} active members, ${week.purchases} purchases, as the API counts them`);

  await customerContext.close();
  await cashierContext.close();
  await ownerContext.close();
}

const scratch = mkdtempSync(join(tmpdir(), 'encarte-console-'));
process.exit(
  await runInChromium({
    executablePath: CHROMIUM,
    steps: (browser) => run(browser, scratch),
    summary: (seconds) => `all console steps passed in ${seconds} s${SKIP_DESIGN ? ' (design skipped)' : ''}`,
    cleanup: () => rmSync(scratch, { recursive: true, force: true }),
  }),
);
