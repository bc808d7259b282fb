// The dashboard in headless Chromium (Debian's, driven by playwright-core)
// against the real three programs, started and seeded by
// test_dashboard.py. Prints one JSON object of findings; the Python side
// asserts on them. Asks the Python side to restart the gateway by printing
// "RESTART" and waiting for a line on stdin.
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const TOOLS = path.join(__dirname, "..", "tools", "node_modules");
const { chromium } = require(path.join(TOOLS, "playwright-core"));
const AXE = fs.readFileSync(path.join(TOOLS, "axe-core", "axe.min.js"), "utf8");

const GW = process.env.GW;
const KEYS = JSON.parse(process.env.KEYS);
const ART = process.env.ARTIFACTS;
const PHONE = process.env.PHONE;
const out = { axe: {}, views: {}, problems: [], csp: [], timings: {} };
// Lines from the Python side, queued: one may arrive before it is awaited.
const lines = readline.createInterface({ input: process.stdin });
const queued = [];
const waiting = [];
lines.on("line", (l) => (waiting.length ? waiting.shift()(l) : queued.push(l)));
const nextLine = () => new Promise((resolve) => (queued.length ? resolve(queued.shift()) : waiting.push(resolve)));

async function api(key, method, p, body) {
  const r = await fetch(GW + p, {
    method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function page(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const p = await context.newPage();
  p.on("console", (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) out.csp.push(m.text());
    if (m.type() === "log" || m.type() === "info") out.problems.push(`console output: ${m.text()}`);
  });
  p.on("pageerror", (e) => out.problems.push(`page error: ${e.message}`));
  return { context, p };
}

async function until(check, timeout = 10000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function signIn(p, key) {
  await p.goto(`${GW}/dashboard/`);
  await p.fill("#apikey", key);
  await p.click("button[type=submit]");
  await p.waitForSelector("#tenant");
  await p.waitForSelector("#live[data-state=live]", { timeout: 15000 });
}

async function axe(p, view) {
  await p.evaluate(AXE);
  const r = await p.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  out.axe[view] = r;
}

async function visit(p, hash, ready, view) {
  await p.goto(`${GW}/dashboard/${hash}`);
  await p.waitForSelector(ready, { timeout: 15000 });
  const text = await p.evaluate(() => document.body.innerText);
  out.views[view] = {
    title: await p.title(),
    url: p.url(),
    hasRawPhone: text.includes(PHONE),
    storage: await p.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)),
  };
  await axe(p, view);
  await p.screenshot({ path: path.join(ART, `${view}.png`), fullPage: true });
  await p.screenshot({ path: path.join(ART, `${view}-top.png`) });
}

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  try {
    // A writer without cases.pii.
    const { context, p } = await page(browser);
    await p.goto(`${GW}/dashboard/`);
    await axe(p, "signin");
    await p.screenshot({ path: path.join(ART, "signin.png") });
    await signIn(p, KEYS.writer);
    out.keyFieldEmptied = (await p.$("#apikey")) === null;
    out.cookieVisible = await p.evaluate(() => document.cookie.includes("counsel_session"));
    out.tenantShown = await p.textContent("#tenant");
    out.scopesShown = await p.textContent("#scopes");

    await visit(p, "#/triage", "#triage-rows tr", "triage");
    out.triageRows = await p.$$eval("#triage-rows tr", (rs) => rs.length);
    out.triageClients = await p.$$eval("#triage-rows td.client", (cs) => cs.map((c) => c.textContent));
    out.writerControls = await p.$$eval("button.assign, button.transition", (b) => b.length);

    // Live: a case created through the API appears without a reload.
    const marker = `LIVE-${Date.now()}`;
    const t0 = Date.now();
    const created = await api(KEYS.writer, "POST", "/v1/cases", {
      externalRef: marker, client: { id: "client-live", displayName: "赵六", phone: PHONE },
      leakedData: ["LEAKED_DATA_PHONE"] });
    await p.waitForSelector(`#triage-rows tr[data-name="${created.name}"]`, { timeout: 10000 });
    out.timings.liveAppearMs = Date.now() - t0;
    out.noReload = await p.evaluate(() => performance.getEntriesByType("navigation").length === 1 &&
                                          !!document.querySelector("#triage-rows"));

    await visit(p, "#/deadlines", "#deadlines", "deadlines");
    await visit(p, "#/clusters", "#cluster-rows tr", "clusters");
    out.clusters = await p.$$eval("#cluster-rows tr", (rs) => rs.map((r) => r.innerText));
    await visit(p, "#/figures", "#figures svg", "figures");
    await visit(p, "#/statutes", "#provisions li", "statutes");

    // A case: tick an item and see it in the timeline.
    const id = process.env.CASE.split("/")[1];
    await visit(p, `#/case/${id}`, "#checklist tr", "case");
    out.caseClientPhone = await p.textContent("#client");
    out.caseCitations = await p.$$eval(".citation", (c) => c.length);
    out.xss = await p.evaluate(() => window.__xss === undefined ? null : window.__xss);
    out.summaryShown = (await p.textContent(".summary")) || "";
    out.caseStale = await p.$$eval(".stale", (c) => c.map((x) => x.textContent));
    const before = await p.$$eval('#timeline li[data-type="TYPE_CHECKLIST_ITEM_UPDATED"]', (l) => l.length);
    await p.click("#checklist button.tick");
    // Polled from here: waitForFunction evaluates strings, which the page's
    // policy (no unsafe-eval) refuses, as it should.
    await until(async () => (await p.$$eval('#timeline li[data-type="TYPE_CHECKLIST_ITEM_UPDATED"]',
                                            (l) => l.length)) > before);
    out.tickInTimeline = true;

    // Mobile size.
    await p.setViewportSize({ width: 390, height: 844 });
    await p.goto(`${GW}/dashboard/#/triage`);
    await p.waitForSelector("#triage-rows tr");
    await axe(p, "triage-390");
    await p.screenshot({ path: path.join(ART, "triage-390.png"), fullPage: true });
    out.overflowAt390 = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    await p.setViewportSize({ width: 1280, height: 800 });

    // Keyboard: from a fresh load, Tab reaches the nav, and Enter opens it.
    await p.goto(`${GW}/dashboard/#/triage`);
    await p.reload();
    await p.waitForSelector("#triage-rows tr");
    let reached = false;
    out.focusPath = [];
    for (let i = 0; i < 12 && !reached; i++) {
      await p.keyboard.press("Tab");
      const at = await p.evaluate(() => {
        const a = document.activeElement;
        return a ? `${a.tagName}:${a.getAttribute("href") || a.id || ""}` : "";
      });
      out.focusPath.push(at);
      reached = at === "A:#/clusters";
    }
    if (reached) {
      await p.keyboard.press("Enter");
      await p.waitForSelector("#cluster-rows");
    }
    out.keyboardNav = reached;

    // The SSE connection drops (the gateway is killed and restarted) and
    // resumes from the last event id: a case created while it was down shows.
    await p.goto(`${GW}/dashboard/#/triage`);
    await p.waitForSelector("#live[data-state=live]");
    // Reconnects are held back until the case is written, so it can only
    // arrive through the resume from Last-Event-ID.
    const hold = (route) => route.abort();
    await context.route("**/v1/changes:watch*", hold);
    console.log("RESTART");
    await p.waitForSelector("#live[data-state=reconnecting]", { timeout: 15000 });
    await nextLine();  // the gateway is back
    const stateAtCreate = await p.getAttribute("#live", "data-state");
    const during = await api(KEYS.writer, "POST", "/v1/cases", {
      externalRef: `DROP-${Date.now()}`, client: { id: "client-drop", displayName: "钱七" },
      leakedData: ["LEAKED_DATA_EMAIL"] });
    await context.unroute("**/v1/changes:watch*", hold);
    await p.waitForSelector(`#triage-rows tr[data-name="${during.name}"]`, { timeout: 20000 });
    out.resume = { stateAtCreate, resumed: true,
                   finalState: await p.getAttribute("#live", "data-state") };

    // Sign-out ends the session: the cookie no longer works.
    await p.click("#signout");
    await p.waitForSelector("#apikey");
    out.afterSignOut = await p.evaluate(async () => (await fetch("/v1/cases")).status);
    await context.close();

    // A reader: no write controls, and the API refuses writes anyway.
    const r = await page(browser);
    await signIn(r.p, KEYS.reader);
    await r.p.goto(`${GW}/dashboard/#/case/${id}`);
    await r.p.waitForSelector("#checklist tr");
    out.readerControls = await r.p.$$eval("button.tick, button.skip-item", (b) => b.length);
    await r.p.goto(`${GW}/dashboard/#/triage`);
    await r.p.waitForSelector("#triage-rows tr");
    out.readerTriageControls = await r.p.$$eval("button.assign, button.transition", (b) => b.length);
    out.readerWrite = await r.p.evaluate(async (name) => {
      const s = await (await fetch("/v1/sessions/current")).json();
      const res = await fetch(`/v1/${name}?updateMask=assignee`, {
        method: "PATCH", headers: { "content-type": "application/json", "x-csrf-token": s.csrfToken },
        body: JSON.stringify({ assignee: "x" }) });
      return res.status;
    }, process.env.CASE);
    out.auditHiddenForReader = (await r.p.$('nav a[href="#/audit"]')) === null;
    await r.context.close();

    // An admin with cases.pii: the audit view, and unmasked data.
    const a = await page(browser);
    await signIn(a.p, KEYS.admin);
    await visit(a.p, "#/audit", "#verify", "audit");
    await a.p.click("#verify");
    await a.p.waitForSelector("#audit-result p");
    out.audit = await a.p.textContent("#audit-result");
    await a.p.goto(`${GW}/dashboard/#/case/${id}`);
    await a.p.waitForSelector("#client");
    out.adminClient = await a.p.textContent("#client");
    await a.p.goto(`${GW}/dashboard/#/statutes`);
    await a.p.waitForSelector("#provisions li button");
    await a.p.click("#provisions li button");
    await a.p.waitForSelector("#provision blockquote");
    out.provisionText = (await a.p.textContent("#provision blockquote")).slice(0, 40);
    // Two versions compared, the differences marked.
    await a.p.selectOption("#statute", "statutes/public-security-administration-punishments");
    await a.p.waitForSelector("#provisions li button");
    await a.p.fill("#find-label", "第四十二条");
    await a.p.click("#provisions li button");
    await a.p.waitForSelector("#provision blockquote");
    await a.p.click("#compare");
    await a.p.waitForSelector("#diff .change", { timeout: 15000 });
    out.diffMarks = await a.p.$$eval("#diff ins, #diff del", (m) => m.length);
    await axe(a.p, "statutes-compare");
    await a.p.screenshot({ path: path.join(ART, "statutes-compare.png") });
    await a.context.close();
  } catch (e) {
    out.problems.push(`failed: ${e.stack || e}`);
  } finally {
    await browser.close();
    console.log("RESULT " + JSON.stringify(out));
    lines.close();
  }
})();
