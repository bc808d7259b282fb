// The public HTTP/JSON API, as any other client calls it: the session
// cookie (HttpOnly, set by POST /v1/sessions) goes with every request, and
// requests that change state carry the session's CSRF token.

let session = null;

export function current() {
  return session;
}

export function can(scope) {
  return !!session && session.scopes.includes(scope);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Content (advice, masks' wording) in the interface's language, Chinese first.
let locale = "zh-CN";
export function setLocale(l) {
  locale = l;
}

export async function call(method, path, body) {
  const headers = { accept: "application/json",
                    "accept-language": locale === "en" ? "en, zh-CN;q=0.5" : "zh-CN, en;q=0.5" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && session) headers["x-csrf-token"] = session.csrfToken;
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch (_) {
    data = null;
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.message) || `HTTP ${r.status}`);
  return data;
}

export function get(path, params) {
  const q = params ? "?" + new URLSearchParams(params).toString() : "";
  return call("GET", path + q);
}

// Exchanges the key for the cookie; the key is not kept anywhere.
export async function signIn(apiKey) {
  session = await call("POST", "/v1/sessions", { apiKey });
  return session;
}

export async function resume() {
  try {
    session = await call("GET", "/v1/sessions/current");
  } catch (e) {
    session = null;
  }
  return session;
}

export async function signOut() {
  await call("DELETE", "/v1/sessions/current");
  session = null;
}

export function forget() {
  session = null;
}
