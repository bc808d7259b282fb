// What several views share: re-reading on changes, and the case link.
import { h } from "../dom.js";
import * as live from "../live.js";

// Calls `reload` shortly after a change (one call for a burst, and at
// least every 500 ms while changes keep coming), never two at once; returns
// the view's unmount.
export function reloadOnChange(reload, filter = () => true) {
  let timer = null;
  let first = 0;
  let running = false;
  let again = false;
  let stopped = false;
  const run = async () => {
    timer = null;
    first = 0;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await reload();
    } catch (_) {
      // the next change tries again
    } finally {
      running = false;
      if (again && !stopped) {
        again = false;
        run();
      }
    }
  };
  const off = live.onChange((change) => {
    if (!filter(change)) return;
    const now = Date.now();
    if (!first) first = now;
    clearTimeout(timer);
    timer = setTimeout(run, now - first > 400 ? 0 : 100);
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
    off();
  };
}

export function caseLink(c, text) {
  const id = c.name.split("/")[1];
  return h("a", { href: `#/case/${id}`, "data-case": c.name }, text);
}

export const OPEN_FILTER = "state != RESOLVED AND state != CLOSED";
