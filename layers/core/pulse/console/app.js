// The console's shell: the API key form, hash routes (#/view/argument), one view at a time.
import { apiKey, setApiKey } from "./api.js";
import { errorBox, h } from "./ui.js";
import * as overview from "./view_overview.js";
import * as user from "./view_user.js";
import * as segments from "./view_segments.js";
import * as risk from "./view_risk.js";
import * as models from "./view_models.js";
import * as experiments from "./view_experiments.js";

const VIEWS = { overview, user, segments, risk, models, experiments };
const main = document.getElementById("view");
const status = document.getElementById("status");
let cleanup = null;

export function say(text) {
  status.textContent = text;
}

function route() {
  const [name = "overview", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const view = VIEWS[name] ? name : "overview";
  return { view, arg: rest.length ? decodeURIComponent(rest.join("/")) : "" };
}

async function show() {
  if (cleanup) cleanup();
  cleanup = null;
  const { view, arg } = route();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#/${view}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `Pulse console: ${view}`;
  main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
  main.dataset.view = view;
  main.dataset.ready = "false";
  try {
    cleanup = (await VIEWS[view].render(main, arg, { say, go })) ?? null;
  } catch (error) {
    main.replaceChildren(errorBox(error));
  }
  main.dataset.ready = "true";
}

export function go(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
}

const keyInput = document.getElementById("api-key");
keyInput.value = apiKey();
document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim());
  say(keyInput.value.trim() ? "API key set for this tab." : "No API key: calls go without one.");
  show();
});
document.getElementById("key-forget").addEventListener("click", () => {
  setApiKey("");
  keyInput.value = "";
  say("API key forgotten.");
  show();
});
window.addEventListener("hashchange", show);
show();
