// Browser tests of the zvp portal, as GPs and administrators use it: Debian's Chromium,
// headless, driven by Playwright, presenting a demo UZI-pas card as the TLS client
// certificate (Playwright's `clientCertificates`), with axe-core checking every main page
// against the WCAG 2.1 A/AA rules.
//
// It starts `zvp-portal demo` itself (PORTAL_BIN, default target/debug/zvp-portal; not a ZVP_*
// name, which the portal would read as a configuration override) in a
// temporary directory on free ports, and leaves screenshots, a PDF print and the axe reports
// in e2e/artifacts/. Exit 0 when every check passed; 1 with every failure listed otherwise.
//
//   node e2e/run.mjs            (after `npm ci` in e2e/ and `cargo build -p zvp-portal`)

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const artifacts = join(here, 'artifacts');
rmSync(artifacts, { recursive: true, force: true });
mkdirSync(artifacts, { recursive: true });

const failures = [];
let checks = 0;
function check(ok, what) {
  checks += 1;
  if (!ok) failures.push(`[${label}] ${what}`);
}

// --- the demo, directly or behind nginx ---------------------------------------------------
const bin = process.env.PORTAL_BIN || join(root, 'target/debug/zvp-portal');
const running = [];
const stopNginx = [];

/** Starts `zvp-portal demo` in a fresh directory; resolves to its address line and dir. */
async function startDemo(extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'zvp-e2e-'));
  chmodSync(dir, 0o755);
  const demo = spawn(bin, ['demo', '--dir', join(dir, 'demo')], {
    // From the repository: the demo starts the Dezi stand-in of peers/ from there.
    cwd: root,
    env: { ...process.env, ZVP_SERVER_LISTEN: '127.0.0.1:0', ZVP_SERVER_ADMIN_LISTEN: '127.0.0.1:0', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push({ process: demo, dir });
  let out = '';
  demo.stderr.on('data', () => {});
  const address = await new Promise((resolveAddress, reject) => {
    const timer = setTimeout(() => reject(new Error('the demo did not start within 120 s')), 120_000);
    demo.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/portal\s+(https?:\/\/[^/\s]+)\//);
      if (m && out.includes('Stop with Ctrl-C.')) {
        clearTimeout(timer);
        resolveAddress(m[1]);
      }
    });
    demo.on('exit', (code) => reject(new Error(`the demo exited with ${code}:\n${out}`)));
  });
  return { address, dir, cards: join(dir, 'demo/pki/cards'), pki: join(dir, 'demo/pki') };
}

/** A free TCP port on 127.0.0.1. */
async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** nginx (Debian's) in front of a demo in reverse-proxy mode, with deploy/nginx/zvp.conf. */
async function startNginx(demo) {
  const run = join(demo.dir, 'nginx');
  mkdirSync(run, { recursive: true });
  const pki = demo.pki;
  writeFileSync(join(run, 'uzi-cas.pem'), readFileSync(join(pki, 'root.pem'), 'utf8') + readFileSync(join(pki, 'intermediates.pem'), 'utf8'));
  const port = await freePort();
  const conf = readFileSync(join(root, 'deploy/nginx/zvp.conf'), 'utf8')
    .replaceAll('@RUN@', run)
    .replaceAll('@LISTEN@', `127.0.0.1:${port}`)
    .replaceAll('@PKI@/uzi-cas.pem', join(run, 'uzi-cas.pem'))
    .replaceAll('@PKI@', pki)
    .replaceAll('@UPSTREAMS@', `server ${demo.address.replace('http://', '')};`)
    .replaceAll('@PROXY_FROM@', '127.0.0.3');
  writeFileSync(join(run, 'nginx.conf'), `user root;\n${conf}`);
  // As a daemon, the nginx command returns once its listening socket is bound: ready.
  const nginxArgs = ['-p', run, '-c', join(run, 'nginx.conf')];
  const started = spawnSync(process.env.NGINX || 'nginx', nginxArgs, { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`nginx did not start: ${started.stderr}`);
  stopNginx.push(() => spawnSync(process.env.NGINX || 'nginx', [...nginxArgs, '-s', 'quit']));
  return `https://localhost:${port}`;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});

let origin;
let cards;
let label = 'direct';

/** A browser context that presents `card` (its chain and key) to the portal. */
async function as(card) {
  const context = await browser.newContext({
    // The portal's server certificate comes from the demo's own TLS root; trust is not what
    // these tests are about (the Rust TLS tests verify it).
    ignoreHTTPSErrors: true,
    clientCertificates: [{
      origin,
      certPath: join(cards, card, 'authenticatie.pem'),
      keyPath: join(cards, card, 'authenticatie.key.pem'),
    }],
  });
  const page = await context.newPage();
  // An element that is not there fails its check within seconds, not half a minute.
  page.setDefaultTimeout(10_000);
  return page;
}

/** axe-core on the page: no serious or critical WCAG 2.1 A/AA violations. */
async function accessible(page, name) {
  if (label !== 'direct') return;
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  writeFileSync(join(artifacts, `axe-${name}.json`), JSON.stringify(result.violations, null, 2));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `axe ${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.length}x`).join(', ')}`);
}

/** Runs a group of checks; an exception (an element that never came) fails the group and the
 * suite goes on, so that every group shows what it finds. */
async function step(what, body) {
  try {
    await body();
  } catch (e) {
    check(false, `${what}: ${String(e).split('\n')[0]}`);
  }
}

async function shot(page, name) {
  if (label !== 'direct') return;
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

async function h1(page) {
  return (await page.locator('h1').first().textContent())?.trim() ?? '';
}

/** Every check, against `origin`. */
async function suite() {
  // --- axe itself finds a violation when there is one (so an empty report means something) ---
  const probeContext = await browser.newContext();
  const probe = await probeContext.newPage();
  await probe.setContent('<!DOCTYPE html><html lang="nl"><head><title>t</title></head><body><main><img src="x.png"></main></body></html>');
  const probed = await new AxeBuilder({ page: probe }).withTags(['wcag2a']).analyze();
  check(probed.violations.some((v) => v.id === 'image-alt'), 'axe finds a missing alt text');
  await probeContext.close();

  // --- a GP: start page, a patient, every section and result category, a lab chart --------
  const gp = await as('huisarts');
  let response = await gp.goto(`${origin}/`);
  check(response.status() === 200, `GP start page: status ${response.status()}`);
  check(await h1(gp) === 'Mijn patiënten', `GP start page: h1 ${await h1(gp)}`);
  await shot(gp, 'start');
  await accessible(gp, 'start');
  // The start page scans: counts per group, newest admission first, the filter shown, a
  // name search over the GP's own list.
  const lists = async (page) => page.locator('table.patients').evaluateAll((tables) => tables.map((t) => {
    const heads = [...t.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    return { heading: [...t.closest('div').parentElement.querySelectorAll('h2')].filter((h) => h.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING).at(-1)?.textContent.trim() ?? '',
      heads, rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.cells].map((c, i) => (i === 0 ? c.querySelector('a') : c).textContent.trim())),
      fresh: [...t.querySelectorAll('tbody tr')].map((tr) => tr.querySelector('.new-flag')?.textContent.trim() === 'nieuw') };
  }));
  const when = (text) => { const [d, m, y, hh, mm] = text.match(/\d+/g).map(Number); return Date.UTC(y, m - 1, d, hh, mm); };
  const banner = async (page, where) => {
    const identity = (await page.locator('section.banner .identity').textContent().catch(() => '')) ?? '';
    check(/geb\. \d{2}-\d{2}-\d{4} \(\d+ jaar\)/.test(identity) && /\b(man|vrouw)\b/.test(identity)
      && /BSN \d{9}/.test(identity), `the patient banner on ${where}: "${identity.trim()}"`);
    // It names the current admission, or the latest one: since when, where and why.
    const stay = (await page.locator('section.banner p.admission-line').textContent().catch(() => '')) ?? '';
    check(/^(Opgenomen sinds \d{2}-\d{2}-\d{4} \(\d+ dag(en)?\)|Laatste opname \d{2}-\d{2}-\d{4} tot \d{2}-\d{2}-\d{4}) · \S.*, \S.* · \S/.test(stay.trim()),
      `the banner on ${where} names the admission: "${stay.trim()}"`);
  };
  const startLists = await lists(gp);
  await step('the start page lists, counted and newest first', async () => {
    check(startLists.length === 2, `the start page has its two lists: ${startLists.length}`);
    for (const list of startLists) {
      const count = Number(list.heading.match(/\((\d+)\)$/)?.[1] ?? -1);
      check(count === list.rows.length, `"${list.heading}" counts its ${list.rows.length} rows`);
      const column = list.heads.indexOf(list.heads.includes('Ontslagen') ? 'Ontslagen' : 'Opgenomen');
      const times = list.rows.map((r) => when(r[column]));
      check(times.every((t, i) => i === 0 || times[i - 1] >= t), `"${list.heading}" newest first: ${list.rows.map((r) => r[column]).join(', ')}`);
      check(!list.heads.includes('Patiënt van'), `"${list.heading}": no column that repeats "Eigen patiënt": ${list.heads.join(', ')}`);
    }
  });
  await step('new since the last visit', async () => {
    // The demo's J. de Vries was last here two days ago: what was admitted (in the first
    // list) or discharged (in the second) after that visit is marked, and only that.
    const line = (await gp.locator('p.since').textContent()) ?? '';
    const since = when(line.match(/op (\d{2}-\d{2}-\d{4} \d{2}:\d{2})/)?.[1] ?? '');
    const marks = startLists.flatMap((list) => {
      const column = list.heads.indexOf(list.heads.includes('Ontslagen') ? 'Ontslagen' : 'Opgenomen');
      return list.rows.map((r, i) => [r[0], r[column], list.fresh[i], when(r[column]) > since]);
    });
    check(!Number.isNaN(since) && marks.every(([, , shown, news]) => shown === news),
      `the rows after the last visit (${line.trim()}) are marked "nieuw", the others not: ${marks.filter((m) => m[2] !== m[3]).map((m) => m.slice(0, 3).join(' ')).join('; ')}`);
    const fresh = marks.filter((m) => m[2]).length;
    check(fresh > 0 && fresh < marks.length && line.startsWith(`${fresh} nieuw`), `some rows are new, some not: ${fresh} of ${marks.length}: ${line.trim()}`);
    // The next page of the same visit still tells news since the visit before.
    await gp.reload();
    check((await gp.locator('p.since').textContent()) === line, 'the mark lasts the visit');
  });
  await step('the active filter and the counts', async () => {
    check((await gp.locator('nav.filters [aria-current=page]').textContent())?.trim() === 'alle', 'the active filter is shown');
    check(/Getoond: alle\. \d+ opgenomen, \d+ ontslagen\./.test(await gp.locator('p.active-filter').textContent()), 'the counts per group');
  });
  await step('the discharge letter', async () => {
    // Every discharged patient's row says its discharge letter is there; the newest letter of
    // such a patient is that discharge letter, tied to the admission, and reads as one.
    const dischargedList = startLists[1] ?? { rows: [] };
    check(dischargedList.rows.length > 0 && dischargedList.rows.every((r) => r.at(-1).endsWith('ontslagbrief beschikbaar')),
      `the discharge letter flag on the list: ${dischargedList.rows.map((r) => r.at(-1)).join(' | ')}`);
    await gp.locator('table.patients').nth(1).locator('a[href^="/patient/"]').first().click();
    const dischargedUrl = gp.url();
    await gp.goto(`${dischargedUrl}/dossier/brieven`);
    const firstLetter = (await gp.locator('main table tbody tr').first().textContent()) ?? '';
    check(/Ontslagbrief .*bij de opname van \d{2}-\d{2}-\d{4} tot \d{2}-\d{2}-\d{4}/.test(firstLetter),
      `the newest letter is the discharge letter of the admission: ${firstLetter.trim()}`);
    await gp.locator('main table tbody tr a').first().click();
    await banner(gp, 'a letter');
    const letterText = (await gp.locator('pre.letter').textContent()) ?? '';
    check(['Reden van opname', 'Anamnese', 'Beloop', 'Conclusie', 'Medicatie', 'Beleid en afspraken'].every((h) => letterText.includes(`\n${h}\n`))
      && letterText.length > 800, `the discharge letter has a real structure: ${letterText.length} characters`);
  });
  await gp.goto(`${origin}/`);
  await step('the name search', async () => {
    const someone = startLists[0].rows.at(-1)[0];
    const family = someone.split(' ').at(-1);
    await gp.fill('#naam', family);
    await gp.click('form.name-search button');
    check(gp.url().includes(`naam=${encodeURIComponent(family)}`), `the name search is in the address: ${gp.url()}`);
    const found = (await lists(gp)).flatMap((l) => l.rows.map((r) => r[0]));
    check(found.length > 0 && found.includes(someone) && found.every((n) => n.endsWith(family)),
      `the name search for "${family}" finds only them: ${found.join(', ')}`);
    check((await gp.locator('#naam').inputValue()) === family, 'the name search keeps what was typed');
    await gp.goto(`${origin}/?filter=eigen&naam=zzzz`);
    check((await gp.locator('nav.filters [aria-current=page]').textContent())?.trim() === 'eigen patiënten', 'the active filter "eigen" is shown');
    check((await gp.locator('p.empty').allTextContents()).every((t) => t === 'Geen patiënten met deze naam.')
      && await gp.locator('p.empty').count() === 2, 'an empty search says so');
    await accessible(gp, 'start-search');
  });
  await gp.goto(`${origin}/`);
  await gp.locator('table a[href^="/patient/"]').first().click();
  const patientUrl = gp.url();
  check(/\/patient\/[^/]+$/.test(patientUrl), `a patient opens: ${patientUrl}`);
  check((await gp.content()).includes('Zorgmomenten'), 'patient page shows care moments');
  await shot(gp, 'patient');
  await accessible(gp, 'patient');
  const tabs = await gp.locator('nav.tabs a').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
  // Details, five dossier sections, six result categories ("Overig" included).
  check(tabs.length === 12, `twelve sections and result categories: ${tabs.length}`);
  // The admission summary of an admitted patient (the start page lists them first): every
  // field filled from the EPD.
  const summary = Object.fromEntries(await gp.locator('dl.summary dt').evaluateAll(
    (dts) => dts.map((dt) => [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()])));
  for (const field of ['Reden van opname', 'Behandelaar', 'Afdeling', 'Opgenomen', 'Verwacht ontslag']) {
    check(summary[field] && !summary[field].includes('niet vastgelegd'), `the admission summary gives "${field}": ${JSON.stringify(summary)}`);
  }
  check(/Telefoon afdeling: 0\d{2} \d{3} \d{4}/.test(summary.Afdeling ?? ''), `the summary gives the ward's phone: ${summary.Afdeling}`);
  check(/Kamer \d+/.test(summary.Afdeling ?? ''), `the summary gives the room: ${summary.Afdeling}`);
  check(/\(\d+ dag(en)?\)/.test(summary.Opgenomen ?? ''), `the summary gives the length of stay: ${summary.Opgenomen}`);
  check(/^dr\. /.test(summary.Behandelaar ?? ''), `the summary names the specialist: ${summary.Behandelaar}`);
  await banner(gp, 'the patient page');
  for (const tab of tabs) {
    response = await gp.goto(`${origin}${tab}`);
    check(response.status() === 200, `${tab}: status ${response.status()}`);
    await banner(gp, tab);
  }
  // Medication against the admission: started/changed/stopped, each medicine once in use,
  // sorted by status and then name.
  await gp.goto(`${patientUrl}/dossier/medicatie`);
  const meds = await gp.locator('table.medication tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
  const order = ['gestart', 'gewijzigd', 'gestopt', 'ongewijzigd', 'eerder gestopt'];
  const active = meds.filter((m) => ['gestart', 'gewijzigd', 'ongewijzigd'].includes(m[0])).map((m) => m[1]);
  check(meds.length > 0 && new Set(active).size === active.length, `no medicine twice in use: ${active.join(', ')}`);
  check(meds.every((m) => order.includes(m[0])), `every medicine has its status: ${meds.map((m) => m[0]).join(', ')}`);
  const key = (m) => `${order.indexOf(m[0])}|${m[1].toLowerCase()}`;
  check(meds.every((m, i) => i === 0 || key(meds[i - 1]) <= key(m)), `medication sorted by status and name: ${meds.map((m) => `${m[0]} ${m[1]}`).join('; ')}`);
  check(meds.some((m) => m[0] === 'gestart'), 'what the admission started is marked');
  await accessible(gp, 'medication');
  await shot(gp, 'medication');
  await gp.goto(`${patientUrl}/uitslagen/klinische-chemie`);
  await shot(gp, 'results');
  await accessible(gp, 'results');
  await step('results cumulative and per report', async () => {
    // Cumulative: tests in rows, sampling times in columns, flags in place, Dutch numbers.
    const cumulative = await gp.locator('table.cumulative').evaluateAll((tables) => tables.map((t) => ({
      heads: [...t.querySelectorAll('thead th')].map((th) => th.textContent.trim()),
      rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent.trim())),
    })));
    check(cumulative.length === 1, `clinical chemistry opens cumulative: ${cumulative.length} tables`);
    const cum = cumulative[0] ?? { heads: [], rows: [] };
    check(cum.heads.slice(0, 3).join('|') === 'Bepaling|Eenheid|Referentie' && cum.heads.length >= 5
      && cum.heads.slice(3).every((h) => /^Afname \d{2}-\d{2}-\d{4}\s*\d{2}:\d{2}$/.test(h)),
    `the cumulative view has a column per sampling time: ${cum.heads.join(' | ')}`);
    check(new Set(cum.rows.map((r) => r[0])).size === cum.rows.length && cum.rows.length >= 5, `a row per test: ${cum.rows.map((r) => r[0]).join(', ')}`);
    const cellsText = cum.rows.flatMap((r) => r.slice(2)).join(' ');
    check(/\d,\d/.test(cellsText) && !/\d\.\d/.test(cellsText), `Dutch decimal commas in values and ranges: ${cellsText.slice(0, 200)}`);
    check(cum.rows.some((r) => r[0] === 'Kreatinine' && r[1] === 'µmol/L'), 'creatinine in µmol/L');
    check(cum.rows.some((r) => r.slice(3).some((c) => /\d (H|L) \((hoog|laag)\)$/.test(c))), 'a flag in place next to its value');
    await gp.click('nav.views a');
    check(gp.url().endsWith('?weergave=verslagen'), `the per-report view stays: ${gp.url()}`);
    const times = await gp.locator('article p.times').allTextContents();
    check(times.length > 0 && times.every((t) => /^Afgenomen: \d{2}-\d{2}-\d{4} \d{2}:\d{2} · Verslag: \d{2}-\d{2}-\d{4} \d{2}:\d{2}$/.test(t.trim())),
      `sampling and report time, each labelled: ${times[0]}`);
    await accessible(gp, 'results-per-report');
  });
  await gp.goto(`${patientUrl}/uitslagen/klinische-chemie`);
  await gp.locator('table a[href*="/lab/"]').first().click();
  check(await gp.locator('svg').count() === 1, 'the lab history has its chart');
  await shot(gp, 'lab-history');
  await accessible(gp, 'lab-history');
  await gp.pdf({ path: join(artifacts, 'lab-history.pdf') });
  await gp.emulateMedia({ media: 'print' });
  check(await gp.locator('footer.print').isVisible(), 'a printout is marked with the user and the time');
  check(await gp.locator('section.banner .identity').isVisible(), 'a printout carries the patient banner');
  await banner(gp, 'the printout');
  await gp.emulateMedia({ media: 'screen' });

  // --- the emergency procedure for another GP's patient -----------------------------------
  const colleague = await as('apotheekhoudend-huisarts');
  await colleague.goto(`${origin}/?filter=eigen`);
  await colleague.locator('table a[href^="/patient/"]').first().click();
  const cells = await colleague.locator('table th + td').allTextContents();
  const birth = cells[1].trim().split('-').reverse().join('-');
  const bsn = cells[3].trim();
  await gp.goto(`${origin}/zoeken`);
  await accessible(gp, 'search');
  await gp.fill('#bsn', bsn);
  await gp.fill('#geboortedatum', birth);
  await gp.click('main button[type=submit]');
  check(await h1(gp) === 'Noodprocedure', `a non-own patient leads to the emergency procedure: ${await h1(gp)}`);
  await shot(gp, 'emergency');
  await accessible(gp, 'emergency');
  // A too short explanation is refused, and the form keeps what was chosen and typed.
  await gp.selectOption('#reden', 'other');
  await gp.fill('#toelichting', 'kort');
  await gp.click('main button[type=submit]');
  check(await gp.locator('[role=alert]').count() === 1, 'a too short explanation is refused');
  check(await gp.locator('#reden').inputValue() === 'other' && await gp.locator('#toelichting').inputValue() === 'kort',
    `the emergency form keeps its input: ${await gp.locator('#reden').inputValue()} / ${await gp.locator('#toelichting').inputValue()}`);
  await gp.selectOption('#reden', 'out-of-hours');
  await gp.fill('#toelichting', 'Patiënt op de huisartsenpost, benauwd');
  await gp.click('main button[type=submit]');
  check((await gp.content()).includes('via de noodprocedure'), 'the record opens with the emergency banner');

  // --- refusals ---------------------------------------------------------------------------
  for (const [card, title] of [
    ['aios', 'Uw rol geeft geen toegang tot het portaal'],
    ['geblokkeerd', 'Uw account is geblokkeerd'],
    ['ingetrokken', 'Inloggen met uw UZI-pas is niet gelukt'],
    ['zonder-account', 'U heeft nog geen account'],
  ]) {
    const page = await as(card);
    response = await page.goto(`${origin}/`);
    check(response.status() === 403, `${card}: status ${response.status()}`);
    check(await h1(page) === title, `${card}: ${await h1(page)}`);
    check((await page.content()).includes('Referentienummer'), `${card}: a reference number`);
    await shot(page, `refusal-${card}`);
    await accessible(page, `refusal-${card}`);
    await page.context().close();
  }

  // --- an account request, approved by the administrator ----------------------------------
  const newcomer = await as('zonder-account');
  await newcomer.goto(`${origin}/account/aanvragen`);
  await accessible(newcomer, 'account-request');
  check(/Beroep\s*Huisarts \(01\.015\)/.test(await newcomer.locator('dl').textContent()), 'the request form names the role, not only its code');
  // A wrong phone number is refused, and what was typed stays.
  await newcomer.fill('#praktijk', 'Huisartsenpraktijk De Linde');
  await newcomer.fill('#email', 'n.hendriks@delinde.example');
  await newcomer.fill('#telefoon', 'geen');
  await newcomer.click('main button[type=submit]');
  check(await newcomer.locator('[role=alert]').count() === 1, 'a wrong phone number is refused');
  check(await newcomer.locator('#praktijk').inputValue() === 'Huisartsenpraktijk De Linde'
    && await newcomer.locator('#email').inputValue() === 'n.hendriks@delinde.example'
    && await newcomer.locator('#telefoon').inputValue() === 'geen', 'the account request keeps its input');
  await newcomer.fill('#praktijk', 'Huisartsenpraktijk De Linde');
  await newcomer.fill('#email', 'n.hendriks@delinde.example');
  await newcomer.fill('#telefoon', '078 - 123 45 67');
  await newcomer.click('main button[type=submit]');
  check(await h1(newcomer) === 'Aanvraag ontvangen', `request filed: ${await h1(newcomer)}`);
  const admin = await as('medewerker');
  await admin.goto(`${origin}/`);
  check(admin.url().endsWith('/beheer'), `the administrator lands on /beheer: ${admin.url()}`);
  await accessible(admin, 'admin');
  check((await admin.content()).includes('n.hendriks@delinde.example'), 'the request shows its contact details');
  const roles = await admin.locator('main td').allTextContents();
  check(roles.some((t) => t.trim() === 'Huisarts (01.015)') && !roles.some((t) => /^\d{2}\.\d{3}$/.test(t.trim())),
    'the administration names roles, not bare codes');
  await admin.locator('form[action="/beheer/account/900000011/goedkeuren"] button').click();
  await newcomer.goto(`${origin}/`);
  check(await h1(newcomer) === 'Gebruiksvoorwaarden', `first login asks for the terms: ${await h1(newcomer)}`);
  await newcomer.click('main button[type=submit]');
  check(await h1(newcomer) === 'Mijn patiënten', `after the terms, the start page: ${await h1(newcomer)}`);

  // --- a delegation, made and revoked ------------------------------------------------------
  await admin.goto(`${origin}/beheer`);
  await admin.fill('#van', '01012347');
  await admin.fill('#aan', '900000001');
  await admin.fill('#vanaf', '2026-01-01');
  await admin.locator('form[action="/beheer/machtiging"] button').click();
  await shot(admin, 'admin');
  check((await admin.locator('main').textContent()).includes('J. de Vries (UZI 900000001)'), 'the delegation names the colleague beside the UZI number');
  const revoke = admin.locator('form[action$="/intrekken"] button');
  check(await revoke.count() === 2, `two delegations to revoke: ${await revoke.count()}`);
  await gp.goto(`${origin}/machtigingen`);
  check((await gp.content()).includes('AGB 01012347'), 'the GP sees the new delegation');
  await accessible(gp, 'delegations');
  await revoke.last().click();
  await gp.goto(`${origin}/machtigingen`);
  check((await gp.content()).includes('ingetrokken'), 'the revoked delegation shows as revoked');

  // --- the audit report in Dutch, with a patient column for a practitioner's report -------
  await admin.goto(`${origin}/beheer/audit?uzi=900000001`);
  check(await h1(admin) === 'Gebruik door J. de Vries (UZI 900000001)', `the practitioner's report names them: ${await h1(admin)}`);
  const auditHeads = await admin.locator('main table thead th').allTextContents();
  check(auditHeads.join('|') === 'Tijdstip|Wie|Patiënt|Wat|Grondslag|Reden', `the practitioner's audit report has a patient column: ${auditHeads.join('|')}`);
  const whats = await admin.locator(`main table tbody tr td:nth-child(${auditHeads.indexOf('Wat') + 1})`).allTextContents();
  check(whats.length > 0 && whats.every((w) => !/[a-z]+-[a-z]+|PatientRecord|Login|Query|Found/.test(w)),
    `the audit report says what happened in Dutch: ${[...new Set(whats)].join(' | ')}`);
  check((await admin.locator('main table tbody tr td:nth-child(3)').allTextContents()).some((p) => /^BSN \d{9}$/.test(p)), 'the patient column names the patient by BSN');
  await accessible(admin, 'audit-report');

  // --- the periodic review report: from the overview, for administrators only ------------
  await admin.goto(`${origin}/beheer`);
  await admin.locator('a[href="/beheer/review"]').click();
  check(admin.url().endsWith('/beheer/review'), `the review report: ${admin.url()}`);
  check(await h1(admin) === 'Controlerapport auditlog', `the review report's heading: ${await h1(admin)}`);
  const sections = await admin.locator('h2').allTextContents();
  for (const heading of ['Noodprocedures', 'Weigeringen per zorgverlener', 'Zoekacties zonder inzage',
    'Ongebruikelijke aantallen', 'Controle van het auditlog']) {
    check(sections.includes(heading), `the review report has "${heading}": ${sections.join(' | ')}`);
  }
  check(await admin.locator('a[href^="/beheer/review.csv"][download]').count() === 1, 'the review report offers its CSV');
  await accessible(admin, 'review');
  await shot(admin, 'review');
  const refused = await gp.goto(`${origin}/beheer/review`);
  check(refused.status() === 403, `a GP is refused the review report: ${refused.status()}`);

  // --- Meldingen: the demo's notifier finds the GP's admissions, discharges and letters ------
  // The first poll runs as the demo starts; the page is asked again until it has listed them.
  const found = Date.now() + 60_000;
  let listed = 0;
  while (listed === 0 && Date.now() < found) {
    response = await gp.goto(`${origin}/meldingen`);
    listed = await gp.locator('tr.melding').count();
  }
  check(response.status() === 200, `Meldingen: status ${response.status()}`);
  check(await h1(gp) === 'Meldingen', `Meldingen: h1 ${await h1(gp)}`);
  check(listed > 0, `Meldingen lists the GP's events: ${listed}`);
  const unread = async () => Number(await gp.locator('header .teller').textContent());
  const before = await unread();
  check(before >= await gp.locator('tr.melding:has(button)').count() && before > 0, `the header counts the unread events: ${before}`);
  check(await gp.locator('tr.melding a[href^="/patient/"]').count() === listed, 'each event links to its patient');
  await shot(gp, 'meldingen');
  await accessible(gp, 'meldingen');
  await gp.locator('tr.melding button').first().click();
  check(gp.url().includes('/meldingen'), `marking read returns to Meldingen: ${gp.url()}`);
  check(await unread() === before - 1, `the header counts one fewer: ${await unread()} after ${before}`);
  check(await gp.locator('tr.melding:not(:has(button))').count() === 1, 'the event shows as read');
  // --- Mijn account: the e-mail opt-in per kind; a refused address keeps what was filled in --
  await step('Mijn account', async () => {
    await gp.locator('a[href="/account#email"]').click();
    check(await h1(gp) === 'Mijn account', `Meldingen leads to Mijn account: ${await h1(gp)}`);
    check(await gp.locator('header nav a[href="/account"]').count() === 1, 'the header links to Mijn account');
    const saved = await gp.locator('#adres').inputValue();
    check(saved === 'j.devries@delinde.example', `the demo GP's address is on the form: ${saved}`);
    check(await gp.locator('input[type=checkbox]:checked').count() === 3, 'the demo GP has opted in to every kind');
    await accessible(gp, 'account');
    await gp.fill('#adres', 'j.devries@delinde..example');
    await gp.uncheck('input[name=ontslag]');
    const [refused] = await Promise.all([gp.waitForNavigation(), gp.locator('form[action="/account/meldingen"] button').click()]);
    check(refused.status() === 400, `a malformed address is refused: ${refused.status()}`);
    const alert = (await gp.locator('[role=alert]').textContent()) ?? '';
    check(alert.includes('Dit is geen geldig e-mailadres'), `the refusal says why: ${alert}`);
    check(await gp.locator('#adres').inputValue() === 'j.devries@delinde..example', 'the refused address is kept');
    check(!await gp.locator('input[name=ontslag]').isChecked() && await gp.locator('input[name=opname]').isChecked(),
      'the ticks are kept as they were');
    await shot(gp, 'account-refused');
    await accessible(gp, 'account-refused');
    await gp.fill('#adres', 'j.devries@delinde.example');
    await gp.check('input[name=ontslag]');
    await gp.locator('form[action="/account/meldingen"] button').click();
    check(gp.url().endsWith('/account#email'), `saving returns to Mijn account: ${gp.url()}`);
    check(await gp.locator('#adres').inputValue() === 'j.devries@delinde.example'
      && await gp.locator('input[type=checkbox]:checked').count() === 3, 'the setting is saved');
  });
  // --- phone width: no page scrolls sideways at 390 px, and the lab chart scales ------------
  const phoneWidth = 390;
  const fits = async (page, url, name) => {
    await page.setViewportSize({ width: phoneWidth, height: 844 });
    await page.goto(url);
    const [wide, culprit] = await page.evaluate((w) => {
      const over = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1);
      const e = over.at(-1);
      return [document.documentElement.scrollWidth, e ? `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 40)}"` : ''];
    }, phoneWidth);
    check(wide <= phoneWidth, `${name} at ${phoneWidth} px is ${wide} px wide (${culprit})`);
    await shot(page, `phone-${name}`);
  };
  const gpPages = [['/', 'start'], ['/zoeken', 'search'], ['/machtigingen', 'delegations'],
    [patientUrl.replace(origin, ''), 'patient'], ...tabs.map((t) => [t, t.split('/').at(-1)])];
  for (const [path, name] of gpPages) await fits(gp, `${origin}${path}`, name);
  await gp.goto(`${patientUrl}/uitslagen/klinische-chemie`);
  const labLink = await gp.locator('table a[href*="/lab/"]').first().getAttribute('href');
  await fits(gp, `${origin}${labLink}`, 'lab history');
  const chartWidth = await gp.locator('svg').evaluate((svg) => svg.getBoundingClientRect().width);
  check(chartWidth <= phoneWidth - 20, `the chart scales to the phone: ${chartWidth} px`);
  for (const [path, name] of [['/beheer', 'admin'], ['/beheer/review', 'review'], ['/beheer/audit', 'audit']]) {
    await fits(admin, `${origin}${path}`, name);
  }
  const aiosPage = await as('aios');
  await fits(aiosPage, `${origin}/`, 'a refusal');
  await aiosPage.context().close();
  await gp.setViewportSize({ width: 1280, height: 720 });
  await admin.setViewportSize({ width: 1280, height: 720 });

  // --- logout: the browser's own POST passes the origin check, and the session ends ---------
  await gp.goto(`${origin}/`);
  await gp.click('header button[type=submit]');
  check(await h1(gp) === 'U bent afgemeld', `the logout ends the session: ${await h1(gp)}`);

  // --- without a card: the portal's own page (directly and behind nginx), and a Dezi login
  // (the demo's stand-in; not behind the proxy, whose demo has no Dezi) ---------------------
  await step('without a card, the way in; then a Dezi login in the browser', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const first = await page.goto(`${origin}/`);
    check(first.status() === 403 && await h1(page) === 'Plaats uw UZI-pas', `no card (${label}): ${first.status()} ${await h1(page)}`);
    check(await page.locator('table.patients').count() === 0, 'no card: no patient list');
    const patientPage = await page.goto(`${origin}/zoeken`);
    check(patientPage.status() === 403 && await h1(page) === 'Plaats uw UZI-pas', `no card, another page (${label}): ${patientPage.status()}`);
    await shot(page, 'no-card');
    await accessible(page, 'no-card');
    if (label === 'direct') {
      await page.goto(`${origin}/`);
      await page.getByRole('link', { name: 'Inloggen met Dezi' }).click();
      await page.waitForURL(/\/interaction\//);
      check(await h1(page) === 'Inloggen met Dezi (testomgeving)', `the Dezi stand-in's login page: ${await h1(page)}`);
      await page.getByRole('button', { name: /J\. de Vries/ }).click();
      await page.waitForURL(`${origin}/`);
      check(await h1(page) === 'Mijn patiënten', `after Dezi: ${await h1(page)}`);
      const byDezi = await lists(page);
      const rows = (ls) => ls.flatMap((l) => l.rows.map((r) => r[0])).sort().join('|');
      check(rows(byDezi) !== '' && rows(byDezi) === rows(startLists), `Dezi shows the card's patients: ${byDezi.map((l) => l.rows.length)} vs ${startLists.map((l) => l.rows.length)}`);
      await shot(page, 'dezi-start');
      await page.getByRole('button', { name: 'Afmelden' }).click();
      check((await page.content()).includes('U heeft zich afgemeld'), 'Dezi: logged out');
      const after = await page.goto(`${origin}/`);
      check(after.status() === 403 && await h1(page) === 'Plaats uw UZI-pas', `after the logout: ${after.status()} ${await h1(page)}`);
    } else {
      check(await page.getByRole('link', { name: 'Inloggen met Dezi' }).count() === 0, 'behind nginx: no Dezi in this demo');
    }
    await context.close();
  });
}

try {
  // Directly: the portal's own mutual TLS.
  const direct = await startDemo({});
  origin = direct.address;
  cards = direct.cards;
  await suite();
  // The demo's mail sink: the digest mailed to J. de Vries, as an .eml file, without patient data.
  const mailDir = join(direct.dir, 'demo/mail');
  const mailed = Date.now() + 60_000;
  let mails = [];
  while (mails.length === 0 && Date.now() < mailed) {
    mails = existsSync(mailDir) ? readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : [];
  }
  check(mails.length > 0, `the demo's mail folder has the digest: ${mails.length} mails`);
  if (mails.length > 0) {
    const mail = readFileSync(join(mailDir, mails[0]), 'utf8');
    check(mail.includes('Subject: Nieuwe informatie in het Zorgverlenersportaal'), 'the mail is the digest');
    check(mail.includes('To: j.devries@delinde.example'), 'the mail goes to the GP who opted in');
  }

  // Behind nginx: the portal in reverse-proxy mode on 127.0.0.2, trusting only 127.0.0.3,
  // the address nginx connects from.
  label = 'nginx';
  const proxied = await startDemo({
    ZVP_SERVER_LISTEN: '127.0.0.2:0',
    ZVP_PROXY_TRUSTED: '["127.0.0.3"]',
  });
  cards = proxied.cards;
  origin = await startNginx(proxied);
  // A forged certificate header sent directly to the portal (from 127.0.0.1) is ignored.
  const pem = readFileSync(join(cards, 'huisarts/authenticatie.pem'), 'utf8');
  const forged = await fetch(`${proxied.address}/`, { headers: { 'x-ssl-client-cert': encodeURIComponent(pem) } });
  const forgedBody = await forged.text();
  check(forged.status === 403 && forgedBody.includes('no-certificate'), `a forged header straight to the portal: ${forged.status}`);
  await suite();
  const log = readFileSync(join(proxied.dir, 'nginx/access.log'), 'utf8').trim().split('\n');
  check(log.length > 30, `the browser went through nginx: ${log.length} requests in its access log`);
} catch (e) {
  failures.push(`stopped: ${e.stack || e}`);
} finally {
  await browser.close();
  for (const stop of stopNginx) stop();
  for (const { process: child, dir } of running.reverse()) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGINT');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (failures.length) {
  console.error(`browser tests: ${failures.length} of ${checks} checks FAILED`);
  for (const f of failures) console.error(`  - ${f}`);
  process.exit(1);
}
console.log(`browser tests: ${checks} checks passed (artifacts in e2e/artifacts/)`);
