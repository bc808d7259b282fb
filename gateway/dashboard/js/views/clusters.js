// Open cases grouped by suspected source: candidates for a joint police
// report or a group action.
import * as api from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { reloadOnChange, OPEN_FILTER } from "./common.js";

export async function clusters(main) {
  const body = h("tbody", { id: "cluster-rows" });
  async function load() {
    const stats = await api.get("/v1/cases:stats", { filter: OPEN_FILTER });
    const rows = (stats.bySuspectedSource || []).slice().sort((a, b) => b.count - a.count);
    replace(body, rows.map((r) => h("tr", {},
      h("td", {}, r.key || t("unknownSource")), h("td", {}, String(r.count)))));
  }
  replace(main, h("h1", {}, t("clusters")),
    h("div", { class: "table-wrap" }, h("table", { id: "clusters" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("source")),
                                 h("th", { scope: "col" }, t("count")))), body)));
  await load();
  return reloadOnChange(load);
}
