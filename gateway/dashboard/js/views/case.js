// One case from GetCaseBrief: the client (masked unless the session holds
// cases.pii), the checklist, evidence, notes, the timeline, and the advice
// steps with the statute text cited as it read on the incident date.
import * as api from "../api.js";
import { h, replace, toast } from "../dom.js";
import { t, stateName, leakedName, severityName } from "../i18n.js";
import { reloadOnChange } from "./common.js";

const STALE = {
  AMENDED: ["该条在事发日后已修改；以下为事发日文本。", "Amended after the incident date; the text below is as of that date."],
  NOT_IN_FORCE: ["事发日该条尚未生效或已失效。", "Not in force on the incident date."],
  NOT_IN_CORPUS: ["本库没有事发日的文本；不能确定当日条文。", "The corpus has no text for that date; what it said then is unknown here."],
  NO_SUCH_PROVISION: ["所引条文在该版本中不存在。", "The cited provision does not exist in that version."],
  MERGED: ["所引条文已并入另一条；以下为该条事发日文本。", "Merged into another provision; the text below is that provision's as of the incident date."],
};

function staleText(reason, lang) {
  return (STALE[reason] || [reason, reason])[lang === "en" ? 1 : 0];
}

function head(...cols) {
  return h("thead", {}, h("tr", {}, cols.filter(Boolean).map((x) => h("th", { scope: "col" }, x))));
}

function when(ts) {
  return ts ? ts.replace("T", " ").slice(0, 16) : "";
}

export async function caseView(main, id) {
  const name = `cases/${id}`;
  const writable = api.can("cases.write");

  async function load() {
    const [brief, evidence, notes, events] = await Promise.all([
      api.get(`/v1/${name}:brief`),
      api.get(`/v1/${name}/evidence`, { pageSize: "100", hideSuperseded: "true" }),
      api.get(`/v1/${name}/notes`, { pageSize: "100" }),
      api.get(`/v1/${name}/events`, { pageSize: "200" }),
    ]);
    const c = brief.case;
    const lang = document.documentElement.lang;
    const client = c.client || {};
    const item = (it) => {
      const buttons = writable && it.state === "STATE_PENDING" ? [
        h("button", { type: "button", class: "tick", "aria-label": `${t("tick")}: ${it.title || it.key}`,
                      onclick: () => setItem(it, "STATE_DONE") }, t("tick")),
        h("button", { type: "button", class: "skip-item", "aria-label": `${t("skipItem")}: ${it.title || it.key}`,
                      onclick: () => setItem(it, "STATE_SKIPPED") }, t("skipItem")),
      ] : [];
      return h("tr", { "data-item": it.name },
        h("td", {}, it.title || it.key), h("td", {}, it.state.replace("STATE_", "")),
        h("td", {}, when(it.dueTime)), writable ? h("td", {}, buttons) : null);
    };
    const steps = [];
    for (const section of brief.advice?.sections || []) {
      for (const step of section.steps || []) {
        steps.push(h("div", { class: "card step" },
          h("h3", {}, step.title),
          h("p", {}, step.body),
          (step.citedProvisions || []).map((p) => h("div", { class: "citation" },
            h("p", {}, h("strong", {}, p.label || p.provision), " ",
              h("span", { class: "muted" }, p.versionId || "")),
            p.stale ? h("p", { class: "warn stale" }, `${t("stale")}: ${staleText(p.staleReason, lang)}`,
              p.resolvedLabel && p.resolvedLabel !== p.label ? ` → ${p.resolvedLabel}` : "") : null,
            p.stale && p.staleDetail ? h("p", { class: "muted stale-detail" }, p.staleDetail) : null,
            p.dateCaveat ? h("p", { class: "warn caveat" }, `${t("caveat")}: ${p.dateCaveat}`) : null,
            p.text ? h("blockquote", { class: "statute" }, p.text) : null))));
      }
    }
    replace(main,
      h("h1", {}, `${t("case")} ${c.externalRef || id.slice(0, 8)}`),
      h("div", { class: "grid" },
        h("div", { class: "card", id: "client" },
          h("h2", {}, t("client")),
          h("p", { class: "client-name" }, client.displayName || ""),
          client.phone ? h("p", { class: "client-phone" }, client.phone) : null,
          client.email ? h("p", {}, client.email) : null,
          client.masked ? h("p", { class: "muted" }, t("masked")) : null),
        h("div", { class: "card" },
          h("p", {}, `${t("state")}: ${stateName(c.state)}`),
          h("p", {}, `${t("severity")}: ${severityName(c.severity)}`),
          h("p", {}, `${t("leaked")}: ${(c.leakedData || []).map(leakedName).join("、")}`),
          h("p", {}, `${t("assignee")}: ${c.assignee || "—"}`),
          c.limitationEndsOn ? h("p", {}, `${t("endsOn")}: ${c.limitationEndsOn}`) : null,
          c.summary ? h("p", { class: "summary" }, c.summary) : null)),
      h("h2", {}, t("checklist")),
      h("div", { class: "table-wrap" }, h("table", { id: "checklist" },
        head(t("item"), t("state"), t("due"), writable ? t("actions") : null),
        h("tbody", {}, (c.checklist || []).map(item)))),
      h("h2", {}, t("evidence")),
      h("div", { class: "table-wrap" }, h("table", { id: "evidence" },
        head(t("when"), t("kind"), t("counterpart"), t("summary"), t("attachment")),
        h("tbody", {}, (evidence.evidence || []).map((e) => h("tr", {},
          h("td", {}, when(e.occurredTime || e.createTime)), h("td", {}, e.kind.replace("KIND_", "")),
          h("td", {}, e.counterpart || ""), h("td", {}, e.summary || ""),
          h("td", {}, e.attachment ? [
            h("a", { href: `/v1/${e.name}:download`, download: "" }, `${t("download")} ${e.attachment.filename || ""}`),
            h("div", { class: "mono" }, `${t("sha256")} ${e.attachment.sha256}`)] : null)))))),
      h("h2", {}, t("notes")),
      h("ul", { id: "notes" }, (notes.notes || []).map((n) => h("li", {}, `${when(n.createTime)} ${n.text}`)),
        (notes.notes || []).length ? null : h("li", { class: "muted" }, t("none"))),
      h("h2", {}, t("timeline")),
      h("ol", { id: "timeline" }, (events.events || []).map((e) => h("li", { "data-type": e.type },
        `${when(e.time)} ${e.type.replace("TYPE_", "")}`,
        e.fromState && e.toState ? ` ${stateName(e.fromState)} → ${stateName(e.toState)}` : "",
        (e.changedFields || []).length ? ` (${e.changedFields.join(", ")})` : "",
        e.resource ? ` ${e.resource.split("/").pop()}` : ""))),
      h("h2", {}, t("advice")),
      h("p", { class: "muted" }, `${t("cited")} ${t("asOf")}: ${brief.asOf || ""}`),
      steps);
  }

  async function setItem(it, state) {
    try {
      await api.call("PATCH", `/v1/${it.name}?updateMask=state`, { state, etag: it.etag });
      toast(t("saved"));
      await load();
    } catch (e) {
      toast(`${t("error")}: ${e.message}`, true);
    }
  }

  await load();
  return reloadOnChange(load, (change) => !change.event || change.event.case === name);
}
