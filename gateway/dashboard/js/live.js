// The change feed over server-sent events. The browser's EventSource
// reconnects by itself after a dropped connection and sends Last-Event-ID
// (the last change's cursor), so the gateway resumes exactly after it. When
// the gateway refuses a reconnect (an answer other than 200) EventSource
// gives up; then we open a new one from the last cursor, after checking the
// session is still alive.

let source = null;
let state = "connecting";
let lastId = "";
let retry = null;
let delay = 1000;
const changeListeners = new Set();
const stateListeners = new Set();
const signedOutListeners = new Set();

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}

function open() {
  const url = lastId ? `/v1/changes:watch?cursor=${encodeURIComponent(lastId)}` : "/v1/changes:watch";
  source = new EventSource(url);
  source.onopen = () => {
    delay = 1000;
    setState("live");
  };
  source.onerror = () => {
    if (!source) return;
    if (source.readyState === EventSource.CLOSED) reopenLater();
    else setState("reconnecting");
  };
  const seen = (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
  };
  source.addEventListener("change", (e) => {
    seen(e);
    let data = null;
    try {
      data = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    for (const fn of changeListeners) fn(data.change || data);
  });
  source.addEventListener("bookmark", (e) => {
    seen(e);
    if (state !== "live") setState("live");
  });
  source.addEventListener("problem", () => {
    // The stream ended with an error (e.g. a cursor past the feed's
    // retention): start again from now and let every view re-read.
    lastId = "";
    reopenLater();
    for (const fn of changeListeners) fn({});
  });
}

async function reopenLater() {
  if (source) source.close();
  source = null;
  setState("reconnecting");
  clearTimeout(retry);
  retry = setTimeout(async () => {
    const r = await fetch("/v1/sessions/current", { credentials: "same-origin" }).catch(() => null);
    if (r && r.status === 401) {
      for (const fn of signedOutListeners) fn();
      return;
    }
    open();
  }, delay);
  delay = Math.min(delay * 2, 30000);
}

export function start() {
  if (source) return;
  setState("connecting");
  open();
}

export function stop() {
  clearTimeout(retry);
  if (source) source.close();
  source = null;
  lastId = "";
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

export function onSignedOut(fn) {
  signedOutListeners.add(fn);
}
