// The dashboard: a signed-in header, hash routes, and views that re-read
// what they show when the change feed says something changed.
import * as api from "./api.js";
import { h, replace, toast } from "./dom.js";
import { t, toggleLanguage, language } from "./i18n.js";
import * as live from "./live.js";
import { triage } from "./views/triage.js";
import { deadlines } from "./views/deadlines.js";
import { clusters } from "./views/clusters.js";
import { figures } from "./views/figures.js";
import { caseView } from "./views/case.js";
import { audit } from "./views/audit.js";
import { statutes } from "./views/statutes.js";

const ROUTES = [
  { path: "triage", view: triage, label: "triage" },
  { path: "deadlines", view: deadlines, label: "deadlines" },
  { path: "clusters", view: clusters, label: "clusters" },
  { path: "figures", view: figures, label: "figures" },
  { path: "statutes", view: statutes, label: "statutes" },
  { path: "audit", view: audit, label: "audit", scope: "cases.admin" },
];

const main = document.getElementById("main");
let unmount = null;
let generation = 0;  // a render that finishes after a newer one began draws nothing


function route() {
  const [path, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  // A case id only: nothing from the hash becomes another path of the API.
  if (path === "case" && rest.length === 1 && /^[a-z0-9]{1,64}$/.test(rest[0])) {
    return { view: caseView, arg: rest[0], label: "case" };
  }
  return ROUTES.find((r) => r.path === path && (!r.scope || api.can(r.scope))) || ROUTES[0];
}

let stopBadge = null;

function header() {
  const s = api.current();
  document.querySelector(".skip").textContent = t("skip");
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav"));
  const r = route();
  replace(nav, ROUTES.filter((x) => !x.scope || api.can(x.scope)).map((x) =>
    h("a", { href: `#/${x.path}`, "aria-current": r.path === x.path ? "page" : undefined }, t(x.label))));
  const liveBadge = h("span", { class: "live", id: "live", "data-state": "connecting" }, t("connecting"));
  if (stopBadge) stopBadge();
  stopBadge = live.onState((st) => {
    liveBadge.dataset.state = st;
    liveBadge.textContent = t(st === "live" ? "live" : st === "connecting" ? "connecting" : "reconnecting");
  });
  replace(document.getElementById("who"),
    h("span", { id: "tenant" }, `${t("tenant")}: ${s.tenant}`),
    h("span", { id: "scopes" }, `${t("scopes")}: ${s.scopes.join(", ")}`),
    liveBadge,
    h("button", { type: "button", id: "lang", lang: language() === "en" ? "zh-CN" : "en",
                  onclick: () => { toggleLanguage(); render(); } }, t("language")),
    h("button", { type: "button", id: "signout", onclick: signOut }, t("signOut")));
}

async function render() {
  api.setLocale(language());
  if (unmount) unmount();
  unmount = null;
  const mine = ++generation;
  if (!api.current()) return showSignIn();
  header();
  const r = route();
  document.title = `Counsel · ${t(r.label)}`;  // never a client's name
  // Each view draws into its own box: one still loading after the user
  // moved on writes into a box no longer on the page.
  const box = h("div", { class: "view" }, h("p", { class: "muted" }, t("loading")));
  replace(main, box);
  try {
    const stop = await r.view(box, r.arg);
    if (mine !== generation) {
      if (stop) stop();
      return;
    }
    unmount = stop;
  } catch (e) {
    if (e.status === 401) return sessionEnded();
    if (mine === generation) replace(box, h("p", { class: "bad", role: "alert" }, `${t("error")}: ${e.message}`));
  }
}

// The session expired or was ended elsewhere: back to sign-in.
function sessionEnded() {
  live.stop();
  api.forget();
  render();
}

function showSignIn() {
  api.setLocale(language());
  document.title = `Counsel · ${t("signIn")}`;
  replace(document.getElementById("nav"));
  replace(document.getElementById("who"),
    h("button", { type: "button", id: "lang", onclick: () => { toggleLanguage(); showSignIn(); } },
      t("language")));
  const input = h("input", { type: "password", id: "apikey", name: "apikey", autocomplete: "off",
                             required: true, "aria-describedby": "signin-help" });
  const message = h("p", { id: "signin-error", class: "bad", role: "alert" });
  const form = h("form", { class: "signin card", onsubmit: async (e) => {
    e.preventDefault();
    const key = input.value;
    input.value = "";  // the key leaves the page with this request
    try {
      await api.signIn(key);
      live.start();
      render();
    } catch (err) {
      message.textContent = `${t("error")}: ${err.message}`;
    }
  } },
    h("h1", {}, `Counsel · ${t("signIn")}`),
    h("p", { id: "signin-help", class: "muted" }, t("signInHelp")),
    h("label", { for: "apikey" }, t("apiKey")), input,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("signIn"))),
    message);
  replace(main, form);
  input.focus();
}

async function signOut() {
  try {
    await api.signOut();
  } catch (e) {
    // The cookie may still work: say so, and stay signed in.
    toast(`${t("error")}: ${e.message}`, true);
    return;
  }
  live.stop();
  toast(t("signedOut"));
  location.hash = "";
  render();
}

window.addEventListener("hashchange", render);
live.onSignedOut(sessionEnded);
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();  // not a route
  main.focus();
});
document.documentElement.lang = language();
api.resume().then((s) => {
  if (s) live.start();
  render();
});
