// Counts by state and leaked data, the median age of open cases, and new
// cases per week over 90 days as a bar chart (SVG drawn here: no library).
import * as api from "../api.js";
import { h, replace, isoDate } from "../dom.js";
import { t, stateName, leakedName } from "../i18n.js";
import { reloadOnChange } from "./common.js";

const WEEK = 7 * 86400000;

function counts(id, title, rows, name) {
  return h("div", { class: "card" }, h("h2", {}, title),
    h("table", { id }, h("tbody", {}, (rows || []).map((r) =>
      h("tr", {}, h("th", { scope: "row" }, name(r.key)), h("td", {}, String(r.count)))))));
}

function chart(weeks) {
  const w = 720, hgt = 220, pad = 28, bw = (w - pad * 2) / weeks.length;
  const max = Math.max(1, ...weeks.map((x) => x.count));
  const bars = weeks.map((x, i) => {
    const bh = (hgt - pad * 2) * (x.count / max);
    return h("svg:g", {},
      h("svg:rect", { class: "bar", x: pad + i * bw + 2, y: hgt - pad - bh, width: bw - 4, height: bh },
        h("svg:title", {}, `${x.start}: ${x.count}`)),
      h("svg:text", { x: pad + i * bw + bw / 2, y: hgt - pad - bh - 4, "text-anchor": "middle" },
        String(x.count)),
      i % 2 === 0 ? h("svg:text", { x: pad + i * bw + bw / 2, y: hgt - 8, "text-anchor": "middle" },
        x.start.slice(5)) : null);
  });
  return h("svg:svg", { viewBox: `0 0 ${w} ${hgt}`, role: "img", "aria-labelledby": "chart-title" },
    h("svg:title", { id: "chart-title" }, t("perWeek")), bars);
}

export async function figures(main) {
  const box = h("div", { id: "figures" });
  async function load() {
    const now = Date.now();
    const starts = Array.from({ length: 13 }, (_, i) => now - (13 - i) * WEEK);
    const [all, weekly] = await Promise.all([
      api.get("/v1/cases:stats"),
      Promise.all(starts.map((s) => api.get("/v1/cases:stats", {
        filter: `create_time >= "${new Date(s).toISOString()}" AND create_time < "${new Date(s + WEEK).toISOString()}"`,
      }).then((r) => ({ start: isoDate(s), count: Number(r.totalCases || 0) })))),
    ]);
    replace(box,
      h("div", { class: "grid" },
        h("div", { class: "card" }, h("h2", {}, t("total")), h("p", { id: "total" }, String(all.totalCases || 0)),
          h("h2", {}, t("medianAge")),
          h("p", { id: "median-age" }, String(Math.round(Number(all.medianOpenAgeSeconds || 0) / 86400)))),
        counts("by-state", t("byState"), all.byState, stateName),
        counts("by-leaked", t("byLeaked"), all.byLeakedData, leakedName)),
      h("div", { class: "card chart" }, h("h2", {}, t("perWeek")), chart(weekly)));
  }
  replace(main, h("h1", {}, t("figures")), box);
  await load();
  return reloadOnChange(load);
}
