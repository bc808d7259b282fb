// What several views share: re-reading on changes, and the case link.
import { h } from "../dom.js";
import * as live from "../live.js";

// Calls `reload` shortly after each change (one call for a burst), and
// returns the view's unmount.
export function reloadOnChange(reload, filter = () => true) {
  let timer = null;
  const off = live.onChange((change) => {
    if (!filter(change)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, 100);
  });
  return () => {
    clearTimeout(timer);
    off();
  };
}

export function caseLink(c, text) {
  const id = c.name.split("/")[1];
  return h("a", { href: `#/case/${id}`, "data-case": c.name }, text);
}

export const OPEN_FILTER = "state != RESOLVED AND state != CLOSED";
