// Calls to this stage's API: the key from session storage in x-api-key, JSON in and out, errors
// turned into ApiError with the API's own message ({"error": {"code", "message"}}).

const ROOT = document.querySelector('meta[name="pulse-api"]')?.content ?? "";
const KEY = "pulse.apiKey";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY) ?? "";
}

export function setApiKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export function path(template, ...values) {
  // path`/users/${id}/profile`: every value URL-encoded
  return template.reduce((out, part, i) => out + part + (i < values.length ? encodeURIComponent(values[i]) : ""), "");
}

export async function api(method, route, { query, body } = {}) {
  const url = new URL(ROOT + route, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { accept: "application/json" };
  if (apiKey()) headers["x-api-key"] = apiKey();
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, "network", `the API did not answer (${error.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data?.error ?? {};
    const message = detail.message ?? data?.message ?? `${response.status} ${response.statusText}`;
    const hint = response.status === 401 || response.status === 403 ? " (enter an API key with the admin scope)" : "";
    throw new ApiError(response.status, detail.code ?? "http_" + response.status, message + hint);
  }
  return data;
}
