// What the browser tests (e2e.mjs, console.mjs) share: the command line, checks that fail with a
// message, a hand-written `expect`, navigation that returns the HTTP status, checked screenshots,
// the .eml files of lettre's file transport, and the Chromium run with its failure screenshot.
//
// The stateless helpers are exported as they are; the ones that need the test's directories, its
// timeout or the page to photograph on a failure come from `browserTest(config)`.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// BASE_URL MAIL_DIR SCREENSHOT_DIR from the command line, or E2E_BASE_URL, E2E_MAIL_DIR and
// E2E_SCREENSHOT_DIR; E2E_CHROMIUM, the browser (Debian's by default).
export function scriptArgs() {
  const [argBase, argMail, argShots] = process.argv.slice(2);
  return {
    base: (argBase ?? process.env.E2E_BASE_URL ?? '').replace(/\/+$/, ''),
    mailDir: argMail ?? process.env.E2E_MAIL_DIR,
    shotDir: argShots ?? process.env.E2E_SCREENSHOT_DIR,
    chromium: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
  };
}

export class CheckFailed extends Error {}
export function check(ok, message) {
  if (!ok) throw new CheckFailed(message);
}
export function passed(message) {
  console.log(`ok   ${message}`);
}

export function expectStatus(actual, want, what) {
  check(actual === want, `${what}; it answered ${actual}`);
}

// --- E-mails: a .eml file per message (lettre's file transport) ---------------------------------

export function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i += 1) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// A header's RFC 2047 encoded words (=?utf-8?b?...?= and =?utf-8?q?...?=), decoded.
export function decodeHeader(value) {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, _charset, kind, text) =>
      kind.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    );
}

export function splitEntity(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

// Every text part of a MIME message, decoded (quoted-printable, base64, or as is).
export function textParts(raw) {
  const { headers, body } = splitEntity(raw);
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const parts = body.split(`--${boundary}`).slice(1);
    return parts.filter((p) => !p.startsWith('--')).flatMap((p) => textParts(p.replace(/^\r?\n/, '')));
  }
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'quoted-printable') return [decodeQuotedPrintable(body)];
  if (encoding === 'base64') return [Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')];
  return [body];
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// --- The helpers bound to one test --------------------------------------------------------------

// config:
//   shotDir     where the screenshots go (and failed.png)
//   mailDir     where the .eml files land
//   timeoutMs   how long the waiting checks wait (10 s)
//   numbered    screenshots named `01-name.png`, `02-…` in the order taken, rather than `name.png`
//   viewport    the size every screenshot must have in CSS pixels; by default the page's viewport
//               when it is taken
//   scale       device pixels per CSS pixel in the screenshots, unless a call says otherwise (1)
//   submitSetsLastPage  whether `submit` makes its page the one photographed on a failure (as
//               `goto` and `screenshot` do); on by default
export function browserTest({
  shotDir,
  mailDir,
  timeoutMs = 10_000,
  numbered = false,
  viewport = null,
  scale = 1,
  submitSetsLastPage = true,
}) {
  // The page photographed as failed.png when a step fails.
  let lastPage = null;
  let shotNumber = 0;

  // Hand-written `expect`: waits for the text of the first match of `selector` to satisfy `want`
  // (a string: equal after trimming and collapsing spaces; a RegExp: matches).
  async function expectText(page, selector, want, what = selector) {
    const locator = page.locator(selector).first();
    const deadline = Date.now() + timeoutMs;
    let last = null;
    for (;;) {
      if ((await locator.count()) > 0 && (await locator.isVisible())) {
        last = ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
        if (typeof want === 'string' ? last === want : want.test(last)) return last;
      }
      if (Date.now() > deadline) {
        const seen = last === null ? 'it is missing or hidden' : `it says ${JSON.stringify(last)}`;
        throw new CheckFailed(`${what} should say ${want instanceof RegExp ? want : JSON.stringify(want)}, but ${seen} (${page.url()})`);
      }
      await page.waitForTimeout(100);
    }
  }

  async function expectVisible(page, selector, what = selector) {
    try {
      await page.locator(selector).first().waitFor({ state: 'visible', timeout: timeoutMs });
    } catch {
      throw new CheckFailed(`${what} should be visible on ${page.url()}`);
    }
  }

  async function expectAbsent(page, selector, what = selector) {
    const n = await page.locator(selector).count();
    check(n === 0, `${what} should not be on ${page.url()} (found ${n})`);
  }

  // Clicks a submit button and waits for the page it leads to; returns that page's HTTP status.
  async function submit(page, selector) {
    if (submitSetsLastPage) lastPage = page;
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
    check(response, `clicking ${selector} should load a page`);
    return response.status();
  }

  async function goto(page, url) {
    lastPage = page;
    const response = await page.goto(url, { waitUntil: 'load' });
    check(response, `opening ${url} should load a page`);
    return response.status();
  }

  // A screenshot of the viewport, checked to be a PNG of the viewport's size (the configured one,
  // or else the page's) in device pixels, `shotScale` of them a CSS pixel.
  async function screenshot(page, name, shotScale = scale) {
    lastPage = page;
    shotNumber += 1;
    const file = numbered ? `${String(shotNumber).padStart(2, '0')}-${name}.png` : `${name}.png`;
    const path = join(shotDir, file);
    await page.screenshot({ path, fullPage: false });
    check(existsSync(path), `screenshot ${path} should exist`);
    const png = readFileSync(path);
    check(png.length > 24 && png.subarray(0, 8).equals(PNG_SIGNATURE) && png.toString('latin1', 12, 16) === 'IHDR', `${path} should be a PNG`);
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    const size = viewport ?? page.viewportSize();
    const want = [size.width * shotScale, size.height * shotScale];
    check(width === want[0] && height === want[1], `${path} should be ${want[0]}×${want[1]}, is ${width}×${height}`);
    console.log(`     screenshot ${path}`);
  }

  // Waits for the newest e-mail to `address` holding a link that `pattern` matches; returns the
  // link, the decoded subject and the file. With `newestOnly`, the newest e-mail to `address`
  // must hold the link: one without it fails at once, rather than an older e-mail being read.
  async function linkFromMail(address, pattern, what, { newestOnly = false } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const files = existsSync(mailDir) ? readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : [];
      const newestFirst = files
        .map((f) => ({ path: join(mailDir, f), mtime: statSync(join(mailDir, f)).mtimeMs }))
        .sort((a, b) => b.mtime - a.mtime);
      for (const { path } of newestFirst) {
        const raw = readFileSync(path, 'utf8');
        const { headers } = splitEntity(raw);
        if (!(headers.to ?? '').toLowerCase().includes(address.toLowerCase())) continue;
        for (const text of textParts(raw)) {
          const link = pattern.exec(text)?.[0];
          if (link) return { link, subject: decodeHeader(headers.subject ?? ''), path };
        }
        if (newestOnly) throw new CheckFailed(`the e-mail ${path} to ${address} should have ${what}`);
      }
      if (Date.now() > deadline) {
        throw new CheckFailed(`no e-mail to ${address} with ${what} in ${mailDir} after ${timeoutMs / 1000} s (${files.length} .eml file(s) there)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // Launches headless Chromium (`executablePath`), runs `steps(browser)` in it after making the
  // screenshot directory, and logs `summary(seconds)` when they pass. On a failure: its message, a
  // screenshot of the last page as failed.png. `cleanup` runs after the browser is closed, either
  // way. Returns the exit code (0 or 1).
  async function runInChromium({ executablePath, steps, summary, cleanup = () => {} }) {
    const started = Date.now();
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      // playwright-core adds --no-sandbox (chromiumSandbox is off) and a fresh temporary profile.
      args: [
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    let code = 0;
    try {
      mkdirSync(shotDir, { recursive: true });
      await steps(browser);
      console.log(summary(((Date.now() - started) / 1000).toFixed(1)));
    } catch (error) {
      code = 1;
      console.error(error instanceof CheckFailed ? `FAIL ${error.message}` : `FAIL ${error.stack ?? error}`);
      if (lastPage && !lastPage.isClosed()) {
        await lastPage.screenshot({ path: join(shotDir, 'failed.png') }).catch(() => {});
      }
      console.error(`     screenshots so far, and the page at the failure (failed.png): ${shotDir}`);
    } finally {
      await browser.close();
      cleanup();
    }
    return code;
  }

  return { expectText, expectVisible, expectAbsent, submit, goto, screenshot, linkFromMail, runInChromium };
}
