// End-to-end test in Debian's headless Chromium, on a phone-sized viewport: a customer enrols on
// /p/demo, opens the card from the welcome e-mail, a cashier records a purchase on /staff, the
// card shows the new balance; form errors and CSRF refusals too; then the customer logs in by
// magic link, claims a reward on the card page, and the cashier takes its voucher off a bill. Each step saves a screenshot and
// checks the text on the page. Exits non-zero on the first failed check.
//
//   node tests/browser/e2e.mjs BASE_URL MAIL_DIR SCREENSHOT_DIR
//
// or E2E_BASE_URL, E2E_MAIL_DIR, E2E_SCREENSHOT_DIR; E2E_STAFF_EMAIL and E2E_STAFF_PASSWORD are
// the cashier's login (cashier@demo.test and the demo password). Run by tests/api/browser.rs.

import { randomBytes } from 'node:crypto';

import { browserTest, check, expectStatus, passed, scriptArgs } from './lib.mjs';

const { base: BASE, mailDir: MAIL_DIR, shotDir: SHOT_DIR, chromium: CHROMIUM } = scriptArgs();
const STAFF_EMAIL = process.env.E2E_STAFF_EMAIL ?? 'cashier@demo.test';
const STAFF_PASSWORD = process.env.E2E_STAFF_PASSWORD;
if (!BASE || !MAIL_DIR || !SHOT_DIR || !STAFF_PASSWORD) {
  console.error('usage: node e2e.mjs BASE_URL MAIL_DIR SCREENSHOT_DIR (and E2E_STAFF_PASSWORD in the environment)');
  process.exit(2);
}

// The viewport of a mid-size phone; screenshots are taken at twice that in pixels.
const VIEWPORT = { width: 390, height: 844 };
const SCALE = 2;
const TIMEOUT_MS = 10_000;

// Screenshots numbered in the order taken (01-enrol-form.png, ...), each checked to be a PNG of the
// phone's size in device pixels. Only `goto` and `screenshot` choose the page that failed.png shows.
const { expectText, expectVisible, expectAbsent, submit, goto, screenshot, linkFromMail, runInChromium } = browserTest({
  shotDir: SHOT_DIR,
  mailDir: MAIL_DIR,
  timeoutMs: TIMEOUT_MS,
  numbered: true,
  viewport: VIEWPORT,
  scale: SCALE,
  submitSetsLastPage: false,
});

// --- The steps ---------------------------------------------------------------------------------

async function run(browser) {
  const phone = {
    viewport: VIEWPORT,
    deviceScaleFactor: SCALE,
    isMobile: true,
    hasTouch: true,
    // The demo program is French; an English phone gets the English pages.
    locale: 'en-US',
  };
  const customerContext = await browser.newContext(phone);
  customerContext.setDefaultTimeout(TIMEOUT_MS);
  const customer = await customerContext.newPage();
  const firstName = 'Zoé';
  const email = `e2e-${randomBytes(6).toString('hex')}@example.com`;

  // a. The enrolment form, its errors.
  expectStatus(await goto(customer, `${BASE}/p/demo`), 200, 'GET /p/demo should answer 200');
  await expectText(customer, 'h1', 'Join Demo Café', 'the enrolment page title');
  await expectVisible(customer, '#enrol-submit');
  await screenshot(customer, 'enrol-form');
  passed('a. /p/demo shows the enrolment form');

  expectStatus(await submit(customer, '#enrol-submit'), 422, 'an empty form should answer 422');
  await expectText(customer, '#form-errors', 'Please correct the fields marked below.');
  await expectText(customer, '#first_name-error', 'Enter your first name (up to 100 characters).');
  await expectText(customer, '#email-error', 'Enter a valid e-mail address, like name@example.com.');
  await expectText(customer, '#consent_terms-error', 'Accept the terms to join the programme.');
  await expectAbsent(customer, '#phone-error', 'an error for the optional phone');
  await screenshot(customer, 'enrol-empty-errors');
  passed('a. an empty form answers 422 with the first name, e-mail and terms errors');

  await customer.fill('#first_name', firstName);
  await customer.fill('#email', 'not-an-email');
  await customer.check('#consent_terms');
  expectStatus(await submit(customer, '#enrol-submit'), 422, 'a bad e-mail should answer 422');
  await expectText(customer, '#email-error', 'Enter a valid e-mail address, like name@example.com.');
  await expectAbsent(customer, '#first_name-error', 'the first-name error once it is filled in');
  await expectAbsent(customer, '#consent_terms-error', 'the terms error once they are ticked');
  check((await customer.inputValue('#first_name')) === firstName, 'the first name should be kept after an error');
  check(await customer.isChecked('#consent_terms'), 'the terms box should stay ticked after an error');
  await screenshot(customer, 'enrol-bad-email');
  passed('a. a bad e-mail answers 422 with its error only, the other fields kept');

  // b. Enrolment.
  await customer.fill('#email', email);
  expectStatus(await submit(customer, '#enrol-submit'), 200, 'a valid enrolment should answer 200');
  await expectText(customer, '#check-email', `We sent you a link to your card at ${email}.`);
  await expectText(customer, 'h1', 'Check your e-mail');
  await screenshot(customer, 'check-email');
  passed(`b. ${email} enrolled; the page says to check the e-mail`);

  // c. The link from the welcome e-mail opens the card.
  const { link, path } = await linkFromMail(email, /https?:\/\/[^\s"'<>]+\/c\/[A-Za-z0-9_-]+/, 'a /c/... card link', {
    newestOnly: true,
  });
  check(link.startsWith(`${BASE}/c/`), `the e-mail's card link ${link} should be on ${BASE}`);
  passed(`c. the welcome e-mail ${path} links to ${link}`);
  expectStatus(await goto(customer, link), 200, `the card link ${link} should answer 200`);
  await expectText(customer, 'h1', `Hello ${firstName}`);
  await expectText(customer, '#balance', '0 points', 'the balance');
  check((await customer.getAttribute('#balance', 'data-points')) === '0', 'data-points should be 0');
  await expectVisible(customer, '.qr svg', 'the QR code');
  const qr = await customer.locator('.qr svg').boundingBox();
  check(qr && qr.width >= 200 && qr.height >= 200, `the QR code should be at least 200 px wide, is ${qr?.width}×${qr?.height}`);
  const cardNumber = await expectText(customer, '#card-number', /^\d{4} \d{4} \d{4}$/, 'the card number');
  await expectVisible(customer, '#apple-wallet');
  await expectText(customer, '#history-empty', 'No transaction yet.');
  await screenshot(customer, 'card-new');
  passed(`c. the card page shows 0 points, a ${Math.round(qr.width)} px QR code and the number ${cardNumber}`);

  // d. The cashier's phone: log in on /staff, find the card, record 12.50 EUR.
  const cashierContext = await browser.newContext(phone);
  cashierContext.setDefaultTimeout(TIMEOUT_MS);
  const cashier = await cashierContext.newPage();
  const staffStatus = await goto(cashier, `${BASE}/staff`);
  check(staffStatus === 200, `GET /staff should answer 200, answered ${staffStatus}`);
  await expectVisible(cashier, '#login-email', 'the staff login form');
  await cashier.fill('#login-email', STAFF_EMAIL);
  await cashier.fill('#login-password', STAFF_PASSWORD);
  await screenshot(cashier, 'staff-login');
  await cashier.click('#login-submit');
  await expectVisible(cashier, '#card-input', 'the card field after logging in');
  passed(`d. ${STAFF_EMAIL} logged in on /staff`);

  await cashier.fill('#card-input', cardNumber);
  await cashier.click('#card-submit');
  await expectText(cashier, '#card-name', new RegExp(firstName), "the customer's first name");
  await expectText(cashier, '#card-balance', /(^|\D)0(\D|$)/, "the customer's balance");
  await screenshot(cashier, 'staff-card');
  passed(`d. the card ${cardNumber} shows ${firstName} and a balance of 0`);

  await cashier.fill('#amount', '12.50');
  await cashier.click('#purchase-submit');
  await expectText(cashier, '#result', /(^|\D)12(\D|$)/, 'the confirmation (12 points earned)');
  await expectAbsent(cashier, '#error:visible', 'an error after the purchase');
  await screenshot(cashier, 'staff-purchase');
  passed('d. 12.50 EUR recorded: the cashier sees 12 points earned');

  // e. The customer's card shows the new balance and the purchase.
  check((await customer.reload({ waitUntil: 'load' }))?.status() === 200, 'reloading the card should answer 200');
  await expectText(customer, '#balance', '12 points', 'the balance after the purchase');
  check((await customer.getAttribute('#balance', 'data-points')) === '12', 'data-points should be 12');
  await expectText(customer, '#history li', /Purchase.*\+12$/, 'the history');
  await screenshot(customer, 'card-after-purchase');
  passed('e. the card shows 12 points and the purchase in its history');

  // g. The cashier's decoder (the vendored BarcodeDetector polyfill the scanner loads where the
  // browser has no native one, as here) reads the card page's QR code, and the payload it reads
  // finds the same card on /staff: what a camera scan does, from the pixels of our SVG.
  const payload = await customer.evaluate(async () => {
    const svg = document.querySelector('.qr svg');
    const image = new Image();
    image.src = 'data:image/svg+xml;base64,' + btoa(new XMLSerializer().serializeToString(svg));
    await image.decode();
    const canvas = document.createElement('canvas');
    [canvas.width, canvas.height] = [480, 480];
    canvas.getContext('2d').drawImage(image, 0, 0, 480, 480);
    await new Promise((resolve, reject) => {
      const script = document.createElement('script');
      [script.src, script.onload, script.onerror] = ['/assets/vendor/barcode-detector.js', resolve, reject];
      document.head.appendChild(script);
    });
    const api = window.BarcodeDetectionAPI;
    api.prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith('.wasm') ? '/assets/vendor/zxing_reader.wasm' : prefix + path) },
      fireImmediately: true,
    });
    const found = await new api.BarcodeDetector({ formats: ['qr_code'] }).detect(canvas);
    return found.map((code) => code.rawValue);
  });
  check(payload.length === 1 && payload[0].length >= 16, `the QR code should decode to one payload, decoded ${JSON.stringify(payload)}`);
  check(!payload[0].replace(/\D/g, '').includes(cardNumber.replace(/\D/g, '')), 'the QR code should not be the bare card number');
  await cashier.click('#card-close');
  await cashier.fill('#card-input', payload[0]);
  await cashier.click('#card-submit');
  await expectText(cashier, '#card-name', new RegExp(firstName), "the scanned card's first name");
  await expectText(cashier, '#card-balance', /(^|\D)12(\D|$)/, "the scanned card's balance");
  passed(`g. the QR code decodes (zxing-wasm) to a ${payload[0].length}-character payload that finds ${firstName}'s card on /staff`);

  // h. Usable at 360 px: nothing wider than a small phone's screen on the card and the scanner.
  for (const [page, what] of [[customer, 'the card page'], [cashier, 'the staff scanner']]) {
    await page.setViewportSize({ width: 360, height: 740 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= 360, `${what} should fit 360 px without scrolling sideways, is ${wide} px wide`);
    await page.setViewportSize(VIEWPORT);
  }
  passed('h. the card page and the staff scanner fit a 360 px wide screen');

  // f. CSRF: a post without the token, and forms from another origin, are refused.
  const fields = { first_name: 'X', email: 'x@example.com', consent_terms: 'on' };
  const noToken = await customer.evaluate(async (body) => {
    const response = await fetch('/p/demo', { method: 'POST', body: new URLSearchParams(body) });
    return response.status;
  }, fields);
  check(noToken === 403, `a same-origin POST without the csrf field should answer 403, answered ${noToken}`);
  passed('f. a POST /p/demo without the csrf field answers 403');

  // The customer's cookie and the right token, but another Origin: refused for the Origin alone
  // (the same request from our origin gets past the check, to the form's own 422).
  expectStatus(await goto(customer, `${BASE}/p/demo`), 200, 'GET /p/demo should answer 200');
  const token = await customer.inputValue('input[name=csrf]');
  const withToken = { ...fields, email: 'not-an-email', csrf: token };
  const ours = await customerContext.request.post(`${BASE}/p/demo`, { form: withToken, headers: { Origin: BASE } });
  check(ours.status() === 422, `a POST with the token from our origin should reach the form check (422), answered ${ours.status()}`);
  const forged = await customerContext.request.post(`${BASE}/p/demo`, {
    form: withToken,
    headers: { Origin: 'https://evil.example' },
  });
  check(forged.status() === 403, `a POST with the token from https://evil.example should answer 403, answered ${forged.status()}`);
  passed('f. the same form with a valid token but another Origin answers 403');

  // A forged form on another site, posted by the browser itself: Chromium sends that site's
  // Origin and, the cookie being SameSite=Strict, no csrf cookie.
  const evil = 'http://evil.example';
  await customerContext.route(`${evil}/**`, (route) =>
    route.fulfill({
      contentType: 'text/html; charset=utf-8',
      body: `<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1">
        <form method="post" action="${BASE}/p/demo">
          ${Object.entries({ ...fields, csrf: token }).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('')}
          <button id="forged-submit" type="submit">Win a prize</button>
        </form>`,
    }),
  );
  const attacker = await customerContext.newPage();
  expectStatus(await goto(attacker, `${evil}/prize`), 200, `the forged page ${evil}/prize should load`);
  expectStatus(await submit(attacker, '#forged-submit'), 403, `a form posted from ${evil} should answer 403`);
  await expectText(attacker, 'h1', 'Please try again', 'the error page title');
  await expectText(attacker, 'p.lead', 'This form has expired. Go back, reload the page and send it again.');
  await screenshot(attacker, 'csrf-forged-form');
  passed(`f. a form posted from ${evil} answers 403 with the error page`);

  // i. Points for a reward: 400.00 EUR at the till. With the card link alone, the catalogue of
  // the demo programme shows but offers a login instead of the claim button.
  await cashier.click('#card-close');
  await cashier.fill('#card-input', cardNumber);
  await cashier.click('#card-submit');
  await expectText(cashier, '#card-name', new RegExp(firstName), "the customer's first name");
  await cashier.fill('#amount', '400');
  await cashier.click('#purchase-submit');
  await expectText(cashier, '#result', /\+400 points, balance 412/, 'the confirmation of 400 points');
  expectStatus(await goto(customer, link), 200, 'the card page should answer 200');
  await expectText(customer, '#balance', '412 points', 'the balance before the claim');
  await expectText(customer, '#rewards li:has-text("5 € off") strong', '5 € off', 'the demo catalogue');
  await expectVisible(customer, '#claim-login', 'the login link instead of a claim button');
  await expectAbsent(customer, 'button.claim', 'a claim button with the card link alone');
  passed('i. with the card link alone the catalogue shows, without a claim button');

  // The magic link: asked on /p/demo/login, opened from the e-mail, confirmed with its button.
  expectStatus(await goto(customer, `${BASE}/p/demo/login`), 200, 'the login page should answer 200');
  await customer.fill('#email', email);
  expectStatus(await submit(customer, '#login-submit'), 200, 'asking for a login link should answer 200');
  const { link: login } = await linkFromMail(email, /https?:\/\/[^\s"'<>]+\/login\/[^\s"'<>]+/, 'a login link');
  expectStatus(await goto(customer, login), 200, `the login link ${login} should answer 200`);
  expectStatus(await submit(customer, '#login-continue'), 200, 'logging in should land on the card page');
  check(customer.url() === link, `the login should lead to the card ${link}, is at ${customer.url()}`);
  const claim = customer.locator('#rewards li:has-text("5 € off") button.claim');
  check((await claim.count()) === 1, 'the signed-in customer should see a claim button for 5 € off');
  const coffee = customer.locator('#rewards li:has-text("A free coffee") button.claim');
  check((await coffee.count()) === 1, 'the signed-in customer should see a claim button for the free coffee');
  await screenshot(customer, 'card-rewards');
  passed('i. logged in by magic link, the customer sees the claim buttons');

  const [claimed] = await Promise.all([customer.waitForNavigation({ waitUntil: 'load' }), claim.click()]);
  expectStatus(claimed?.status(), 200, 'the claim should redirect back to the card page');
  await expectText(customer, '#balance', '12 points', 'the balance after the claim');
  await expectText(customer, '#vouchers .voucher-value', /^5,00\s€$|^€5\.00$/, 'the new voucher');
  await expectVisible(customer, '#vouchers .qr svg', "the voucher's QR code");
  const voucherCode = await expectText(customer, '#vouchers .voucher-code', /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{3}$/, 'the voucher code');
  await expectText(customer, '#vouchers .voucher .hint', /^Valid until /, "the voucher's end");
  await screenshot(customer, 'card-voucher');
  passed(`i. the claim redirects to the card page, which shows the voucher ${voucherCode} and its QR code`);

  // j. At the till: the code typed on its own opens the voucher's card with the voucher in the
  // purchase; 12.50 EUR less 5.00 is 7.50 to charge.
  await cashier.click('#card-close');
  await cashier.fill('#card-input', voucherCode.toLowerCase());
  await cashier.click('#card-submit');
  await expectText(cashier, '#card-name', new RegExp(firstName), "the voucher's card");
  await expectText(cashier, '#voucher-list li span', new RegExp(`^${voucherCode} · −5.00 EUR$`), 'the voucher in the purchase');
  await cashier.fill('#amount', '12.50');
  await cashier.click('#purchase-submit');
  await expectText(cashier, '#result', /Vouchers: 5\.00 EUR off.*Charge 7\.50 EUR/, 'the discount and what to charge');
  await expectAbsent(cashier, '#voucher-list li', 'the voucher once used');
  await screenshot(cashier, 'staff-voucher-purchase');
  passed(`j. the voucher ${voucherCode} takes 5.00 EUR off a 12.50 EUR bill: the till charges 7.50`);

  check((await customer.reload({ waitUntil: 'load' }))?.status() === 200, 'reloading the card should answer 200');
  await expectAbsent(customer, '#vouchers', 'the used voucher on the card page');
  passed('j. the used voucher is gone from the card page');

  await cashierContext.close();
  await customerContext.close();
}

process.exit(
  await runInChromium({
    executablePath: CHROMIUM,
    steps: run,
    summary: (seconds) => `all browser steps passed in ${seconds} s`,
  }),
);
