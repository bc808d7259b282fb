// Building the page from data, never from HTML strings: every value goes in
// as text (no innerHTML anywhere), so nothing a case holds can run as script.

export function h(tag, attrs = {}, ...children) {
  const ns = tag.startsWith("svg:") ? "http://www.w3.org/2000/svg" : null;
  const el = ns ? document.createElementNS(ns, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.setAttribute("class", v);
    } else if (k === "value" && "value" in el) {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

export function days(fromIso, to = Date.now()) {
  return Math.floor((to - Date.parse(fromIso)) / 86400000);
}

// YYYY-MM-DD of the user's own calendar (the firm's day, not UTC's).
export function isoDate(d) {
  const t = new Date(d);
  return new Date(t.getTime() - t.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

export function shortId(name) {
  return name.split("/").pop().slice(0, 8);
}

export function toast(text, bad = false) {
  const box = document.getElementById("toast");
  const p = h("p", { class: bad ? "bad" : "" }, text);
  box.appendChild(p);
  setTimeout(() => p.remove(), 4000);
}
