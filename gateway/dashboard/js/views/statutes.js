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
  const list = await api.get("/v1/statutes", { pageSize: "100" });
  const all = list.statutes || [];
  const pick = h("select", { id: "statute" }, all.map((s) => h("option", { value: s.name }, s.title)));
  const date = h("input", { type: "date", id: "as-of", value: isoDate(Date.now()) });
  const provisions = h("ul", { id: "provisions" });
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

  async function load() {
    replace(shown);
    const page = await api.get(`/v1/${pick.value}/provisions`, { asOf: date.value, pageSize: "100" });
    const v = page.version || {};
    replace(provisions, (page.provisions || []).map((p) => h("li", {},
      h("button", { type: "button", class: "link", onclick: () => open(p.name) }, p.label))));
    if (!(page.provisions || []).length) replace(provisions, h("li", { class: "muted" }, t("none")));
    shown.dataset.version = v.versionId || "";
  }

  async function open(provisionName) {
    const p = await api.get(`/v1/${provisionName}`, { asOf: date.value });
    const v = p.version || {};
    replace(shown, h("div", { class: "card" },
      h("h2", {}, `${p.statuteTitle || ""} ${p.label}`),
      h("p", { class: "muted" }, `${v.versionId || ""} · ${v.effectiveDate || ""} · ${v.source || ""}`),
      h("blockquote", { class: "statute" }, provisionText(p))));
  }

  async function compare() {
    const r = await api.get(`/v1/${pick.value}:compare`, { fromVersion: from.value, toVersion: to.value });
    const changes = r.changes || [];
    replace(diff, changes.length ? changes.map((c) => h("div", { class: "card change" },
      h("h3", {}, `${c.fromLabel || ""} → ${c.toLabel || ""} `,
        h("span", { class: "muted" }, (c.kinds || []).map((k) => k.replace("KIND_", "")).join(", "))),
      h("p", { class: "statute" }, (c.diff || []).map((s) =>
        s.op === "OP_INSERT" ? h("ins", {}, s.text) : s.op === "OP_DELETE" ? h("del", {}, s.text) : s.text))))
      : h("p", {}, t("noChanges")));
  }

  pick.addEventListener("change", () => { versions(); load(); replace(diff); });
  date.addEventListener("change", load);
  replace(main, h("h1", {}, t("statutes")),
    h("div", { class: "row" }, h("label", {}, t("statute"), pick), h("label", {}, t("asOf"), date)),
    h("div", { class: "grid" }, h("div", {}, h("h2", {}, t("provision")), provisions), shown),
    h("h2", {}, t("compare")),
    h("div", { class: "row" }, h("label", {}, t("from"), from), h("label", {}, t("to"), to),
      h("button", { type: "button", id: "compare", onclick: compare }, t("compare"))),
    diff);
  versions();
  await load();
  return null;
}
