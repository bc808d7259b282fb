// A statute as it read on a date, one provision, and what changed between
// two versions with the differences marked. Text is shown verbatim, with
// its version and source.
import * as api from "../api.js";
import { h, replace, isoDate } from "../dom.js";
import { t } from "../i18n.js";

// An article's text holds its paragraphs and items already; a provision
// without text of its own is the sum of its parts.
function provisionText(p) {
  if (p.text) return p.text;
  return (p.children || []).map(provisionText).filter(Boolean).join("\n");
}

export async function statutes(main) {
  const catalogue = await api.get("/v1/statutes", { pageSize: "100" });
  const all = catalogue.statutes || [];
  const pick = h("select", { id: "statute" }, all.map((s) => h("option", { value: s.name }, s.title)));
  const date = h("input", { type: "date", id: "as-of", value: isoDate(Date.now()) });
  const provisions = h("ul", { id: "provisions" });
  const find = h("input", { type: "search", id: "find-label", placeholder: "第一百八十八条" });
  const shown = h("div", { id: "provision", "aria-live": "polite" });
  const from = h("select", { id: "from-version" });
  const to = h("select", { id: "to-version" });
  const diff = h("div", { id: "diff" });

  function versions() {
    const s = all.find((x) => x.name === pick.value);
    const vs = (s && s.versions) || [];
    const opts = () => vs.map((v) => h("option", { value: v.versionId }, `${v.versionId} (${v.effectiveDate})`));
    replace(from, opts());
    replace(to, opts());
    if (vs.length > 1) from.value = vs[vs.length - 2].versionId;
    if (vs.length) to.value = vs[vs.length - 1].versionId;
  }

  let loaded = [];
  let loads = 0;

  // Every article of the version in force on the date (民法典 has 1,260).
  async function load() {
    const mine = ++loads;
    replace(shown);
    const all = [];
    let token = "";
    let version = {};
    do {
      const params = { asOf: date.value, pageSize: "500" };
      if (token) params.pageToken = token;
      const page = await api.get(`/v1/${pick.value}/provisions`, params);
      all.push(...(page.provisions || []));
      version = page.version || version;
      token = page.nextPageToken || "";
    } while (token && all.length < 5000);
    if (mine !== loads) return;
    loaded = all;
    shown.dataset.version = version.versionId || "";
    list();
  }

  // Narrowed by label as a lawyer types it: 第一百八十八条, or a part of it.
  function list() {
    const q = find.value.trim();
    const hits = q ? loaded.filter((p) => p.label.includes(q)) : loaded;
    replace(provisions, hits.map((p) => h("li", {},
      h("button", { type: "button", class: "link", onclick: () => open(p.name) }, p.label))));
    if (!hits.length) replace(provisions, h("li", { class: "muted" }, t("none")));
  }

  async function open(provisionName) {
    const p = await api.get(`/v1/${provisionName}`, { asOf: date.value });
    const v = p.version || {};
    replace(shown, h("div", { class: "card" },
      h("h2", {}, `${p.statuteTitle || ""} ${p.citationLabel || p.label}`),
      h("p", { class: "muted" }, `${v.versionId || ""} · ${v.effectiveDate || ""} · ${v.source || ""}`),
      v.dateSource ? h("p", { class: "muted date-source" }, v.dateSource) : null,
      p.dateCaveat ? h("p", { class: "warn caveat" }, `${t("caveat")}: ${p.dateCaveat}`) : null,
      h("blockquote", { class: "statute" }, provisionText(p))));
  }

  async function compare() {
    const changes = [];
    let token = "";
    do {
      const params = { fromVersion: from.value, toVersion: to.value, pageSize: "200" };
      if (token) params.pageToken = token;
      const r = await api.get(`/v1/${pick.value}:compare`, params);
      changes.push(...(r.changes || []));
      token = r.nextPageToken || "";
    } while (token && changes.length < 3000);
    replace(diff, changes.length ? changes.map((c) => h("div", { class: "card change" },
      h("h3", {}, `${c.fromLabel || ""} → ${c.toLabel || ""} `,
        h("span", { class: "muted" }, (c.kinds || []).map((k) => k.replace("KIND_", "")).join(", "))),
      h("p", { class: "statute" }, (c.diff || []).map((s) =>
        s.op === "OP_INSERT" ? h("ins", {}, s.text) : s.op === "OP_DELETE" ? h("del", {}, s.text) : s.text))))
      : h("p", {}, t("noChanges")));
  }

  pick.addEventListener("change", () => { versions(); load(); replace(diff); });
  date.addEventListener("change", load);
  find.addEventListener("input", list);
  replace(main, h("h1", {}, t("statutes")),
    h("div", { class: "row" }, h("label", {}, t("statute"), pick), h("label", {}, t("asOf"), date),
      h("label", {}, t("provision"), find)),
    h("div", { class: "grid" }, h("div", {}, h("h2", {}, t("provision")), provisions), shown),
    h("h2", {}, t("compare")),
    h("div", { class: "row" }, h("label", {}, t("from"), from), h("label", {}, t("to"), to),
      h("button", { type: "button", id: "compare", onclick: () => compare().catch((e) =>
        replace(diff, h("p", { class: "bad", role: "alert" }, `${t("error")}: ${e.message}`))) }, t("compare"))),
    diff);
  versions();
  await load();
  return null;
}
