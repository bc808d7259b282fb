// The change feed over server-sent events. The browser's EventSource
// reconnects by itself and sends Last-Event-ID (the last change's cursor),
// so the gateway resumes exactly after it: nothing is missed across a drop.

let source = null;
let state = "connecting";
const changeListeners = new Set();
const stateListeners = new Set();

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}

export function start() {
  if (source) return;
  setState("connecting");
  source = new EventSource("/v1/changes:watch");
  source.onopen = () => setState("live");
  source.onerror = () => setState(source && source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
  source.addEventListener("change", (e) => {
    let data = null;
    try {
      data = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    for (const fn of changeListeners) fn(data.change || data);
  });
  source.addEventListener("bookmark", () => {
    if (state !== "live") setState("live");
  });
}

export function stop() {
  if (source) source.close();
  source = null;
  setState("closed");
}

export function onChange(fn) {
  changeListeners.add(fn);
  return () => changeListeners.delete(fn);
}

export function onState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
