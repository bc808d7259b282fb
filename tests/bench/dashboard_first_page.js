// Time from navigation to the triage view's first row, and the bytes of the
// initial load, in headless Chromium. Prints key=value lines.
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "tools", "node_modules", "playwright-core"));

(async () => {
  const [gw, key, runs] = [process.env.GW, process.env.KEY, Number(process.env.RUNS || 5)];
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await context.newPage();
  await p.goto(`${gw}/dashboard/`);
  await p.fill("#apikey", key);
  await p.click("button[type=submit]");
  await p.waitForSelector("#triage-rows tr", { timeout: 30000 });
  const times = [];
  let bytes = 0;
  const state = await context.storageState();  // the session cookie, nothing else
  for (let i = 0; i < runs; i++) {
    // A cold browser each time: nothing cached, the session already open.
    const cold = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: state });
    const fresh = await cold.newPage();
    let loaded = 0;
    fresh.on("response", async (r) => {
      if (r.url().includes("/dashboard/")) {
        loaded += Number((await r.allHeaders())["content-length"] || 0);
      }
    });
    const t0 = Date.now();
    await fresh.goto(`${gw}/dashboard/#/triage`);
    await fresh.waitForSelector("#triage-rows tr", { timeout: 30000 });
    times.push(Date.now() - t0);
    bytes = Math.max(bytes, loaded);
    await cold.close();
  }
  times.sort((a, b) => a - b);
  console.log(`first_page_ms_min=${times[0]}`);
  console.log(`first_page_ms_median=${times[Math.floor(times.length / 2)]}`);
  console.log(`first_page_ms_max=${times[times.length - 1]}`);
  console.log(`initial_load_bytes=${bytes}`);
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
