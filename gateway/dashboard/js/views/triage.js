// NEW and TRIAGED cases, most severe and oldest first, paged from the API;
// assign and move them on when the key may write.
import * as api from "../api.js";
import { h, replace, days, toast } from "../dom.js";
import { t, stateName, leakedName, severityName, LEAKED_KINDS } from "../i18n.js";
import { caseLink, reloadOnChange } from "./common.js";

const NEXT = { STATE_NEW: "STATE_TRIAGED", STATE_TRIAGED: "STATE_IN_PROGRESS" };

export async function triage(main) {
  const leaked = h("select", { id: "f-leaked" }, h("option", { value: "" }, t("all")),
    LEAKED_KINDS.map((k) => h("option", { value: k }, leakedName(k))));
  const assignee = h("input", { id: "f-assignee", type: "search" });
  const body = h("tbody", { id: "triage-rows" });
  const more = h("button", { type: "button", id: "triage-more", hidden: true }, t("more"));
  const writable = api.can("cases.write");
  let token = "";
  let loads = 0;  // only the newest load draws

  function filter() {
    let f = "(state = NEW OR state = TRIAGED)";
    if (leaked.value) f += ` AND leaked_data:${leaked.value}`;
    if (assignee.value.trim()) f += ` AND assignee = ${JSON.stringify(assignee.value.trim())}`;
    return f;
  }

  function row(c) {
    const actions = [];
    if (writable) {
      const who = h("input", { type: "text", value: c.assignee || "", size: 10,
                               "aria-label": `${t("assignee")} ${c.name.split("/")[1].slice(0, 8)}` });
      const label = c.externalRef || c.name.split("/")[1].slice(0, 8);
      actions.push(who, h("button", { type: "button", class: "assign", "aria-label": `${t("assign")} ${label}`, onclick: async () => {
        await act(() => api.call("PATCH", `/v1/${c.name}?updateMask=assignee`,
                                 { assignee: who.value, etag: c.etag }));
      } }, t("assign")));
      if (NEXT[c.state]) {
        actions.push(h("button", { type: "button", class: "transition",
                                   "aria-label": `${t("moveTo")} ${stateName(NEXT[c.state])}: ${label}`, onclick: async () => {
          await act(() => api.call("POST", `/v1/${c.name}:transition`,
                                   { state: NEXT[c.state], etag: c.etag }));
        } }, `${t("moveTo")} ${stateName(NEXT[c.state])}`));
      }
    }
    return h("tr", { "data-name": c.name },
      h("td", {}, caseLink(c, c.externalRef || c.name.split("/")[1].slice(0, 8))),
      h("td", { class: "client" }, c.client?.displayName || ""),
      h("td", { class: `sev-${["SEVERITY_LOW", "SEVERITY_MEDIUM", "SEVERITY_HIGH", "SEVERITY_CRITICAL"].indexOf(c.severity) + 1}` },
        severityName(c.severity)),
      h("td", {}, stateName(c.state)),
      h("td", {}, String(days(c.createTime))),
      h("td", {}, (c.leakedData || []).map(leakedName).join("、")),
      h("td", {}, c.assignee || "—"),
      writable ? h("td", {}, h("div", { class: "row" }, actions)) : null);
  }

  async function act(fn) {
    try {
      await fn();
      await load(true);
    } catch (e) {
      toast(`${t("error")}: ${e.message}`, true);
    }
  }

  async function load(reset) {
    const mine = ++loads;
    const params = { filter: filter(), orderBy: "severity desc", pageSize: "50" };
    if (!reset && token) params.pageToken = token;
    const page = await api.get("/v1/cases", params);
    if (mine !== loads) return;
    const rows = (page.cases || []).map(row);
    if (reset) replace(body, rows); else body.append(...rows);
    token = page.nextPageToken || "";
    more.hidden = !token;
  }

  more.addEventListener("click", () => load(false));
  leaked.addEventListener("change", () => load(true));
  assignee.addEventListener("change", () => load(true));
  replace(main,
    h("h1", {}, t("triage")),
    writable ? null : h("p", { class: "muted", id: "read-only" }, t("readOnly")),
    h("div", { class: "row" },
      h("label", {}, t("leaked"), leaked), h("label", {}, t("assignee"), assignee)),
    h("div", { class: "table-wrap" }, h("table", { id: "triage" },
      h("caption", { class: "muted" }, `${t("state")}: ${stateName("STATE_NEW")} / ${stateName("STATE_TRIAGED")}`),
      h("thead", {}, h("tr", {}, [t("case"), t("client"), t("severity"), t("state"), t("age"),
                                  t("leaked"), t("assignee"), writable ? t("actions") : null]
        .filter(Boolean).map((x) => h("th", { scope: "col" }, x)))),
      body)),
    more);
  await load(true);
  return reloadOnChange(() => load(true));
}
