// Checklist items overdue or due within 7 days across open cases, and cases
// whose limitation period ends within 90 days, soonest first.
import * as api from "../api.js";
import { h, replace, isoDate } from "../dom.js";
import { t, stateName } from "../i18n.js";
import { caseLink, reloadOnChange, OPEN_FILTER } from "./common.js";

const WEEK = 7 * 86400000;

const MAX_CASES = 3000;

// Pages through a filter, up to `max` cases; `capped` says when more exist.
async function pages(filter, max) {
  const out = [];
  let token = "";
  do {
    const params = { filter, pageSize: "500", orderBy: "create_time desc" };
    if (token) params.pageToken = token;
    const page = await api.get("/v1/cases", params);
    out.push(...(page.cases || []));
    token = page.nextPageToken || "";
  } while (token && out.length < max);
  out.capped = !!token;
  return out;
}

export async function deadlines(main) {
  const items = h("tbody", { id: "deadline-rows" });
  const limits = h("tbody", { id: "limitation-rows" });
  const note = h("p", { class: "warn", role: "status", hidden: true }, t("capped"));

  async function load() {
    const now = Date.now();
    const today = isoDate(now);
    const in90 = isoDate(now + 90 * 86400000);
    const [overdue, others, ending] = await Promise.all([
      pages(`${OPEN_FILTER} AND overdue = true`, MAX_CASES),
      pages(`${OPEN_FILTER} AND overdue = false`, MAX_CASES),
      pages(`${OPEN_FILTER} AND limitation_ends_on >= ${today} AND limitation_ends_on <= ${in90}`, MAX_CASES),
    ]);
    note.hidden = !(overdue.capped || others.capped || ending.capped);
    const due = [];
    for (const c of [...overdue, ...others]) {
      for (const item of c.checklist || []) {
        if (item.state !== "STATE_PENDING" || !item.dueTime) continue;
        const at = Date.parse(item.dueTime);
        if (at < now + WEEK) due.push({ c, item, at });
      }
    }
    due.sort((a, b) => a.at - b.at);
    replace(items, due.map(({ c, item, at }) => h("tr", {},
      h("td", { class: at < now ? "bad" : "warn" }, `${isoDate(at)} ${at < now ? t("overdue") : ""}`),
      h("td", {}, item.title || item.key),
      h("td", {}, caseLink(c, c.externalRef || c.name.split("/")[1].slice(0, 8))),
      h("td", {}, stateName(c.state)))));
    ending.sort((a, b) => a.limitationEndsOn.localeCompare(b.limitationEndsOn));
    replace(limits, ending.map((c) => h("tr", {},
      h("td", {}, c.limitationEndsOn),
      h("td", {}, caseLink(c, c.externalRef || c.name.split("/")[1].slice(0, 8))),
      h("td", {}, stateName(c.state)))));
  }

  const head = (...cols) => h("thead", {}, h("tr", {}, cols.map((x) => h("th", { scope: "col" }, x))));
  replace(main,
    h("h1", {}, t("deadlines")),
    note,
    h("h2", {}, `${t("overdue")} / ${t("dueSoon")}`),
    h("div", { class: "table-wrap" }, h("table", { id: "deadlines" },
      head(t("due"), t("item"), t("case"), t("state")), items)),
    h("h2", {}, t("limitation")),
    h("div", { class: "table-wrap" }, h("table", { id: "limitation" },
      head(t("endsOn"), t("case"), t("state")), limits)));
  await load();
  return reloadOnChange(load);
}
