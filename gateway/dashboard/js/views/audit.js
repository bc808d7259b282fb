// VerifyAuditLog, for keys with cases.admin.
import * as api from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";

export async function audit(main) {
  const out = h("div", { id: "audit-result", role: "status" });
  const run = h("button", { type: "button", class: "primary", id: "verify", onclick: async () => {
    replace(out, t("loading"));
    try {
      const r = await api.call("POST", "/v1/audit:verify", {});
      replace(out, h("p", { class: r.ok ? "good" : "bad" }, r.ok ? t("verifyOk") : t("verifyBad")),
        h("p", {}, `${t("entries")}: ${r.entriesChecked || 0}`),
        h("p", {}, `${t("head")}: `, h("span", { class: "mono", id: "audit-head" }, r.head || "")),
        r.ok ? null : h("p", { class: "bad" }, `#${r.firstBadSequence}: ${r.problem}`));
    } catch (e) {
      replace(out, h("p", { class: "bad" }, `${t("error")}: ${e.message}`));
    }
  } }, t("verify"));
  replace(main, h("h1", {}, t("audit")), run, out);
  return null;
}
