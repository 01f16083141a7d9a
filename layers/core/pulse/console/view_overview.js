// Overview: what the updater did in the last minutes, users, dead letters, the model, alarms.
import { api } from "./api.js";
import { columnChart, empty, facts, fill, fmt, h, section, table } from "./ui.js";

const REFRESH_MS = 10000;

export async function render(main) {
  const draw = async () => {
    const [data, health] = await Promise.all([api("GET", "/overview"), api("GET", "/health")]);
    const recent = data.recent;
    const tiles = [
      ["Events applied", recent ? fmt.n(recent.events) : "unknown", `last ${data.recent_minutes} min`],
      ["Profiles written", recent ? fmt.n(recent.profiles) : "unknown", `last ${data.recent_minutes} min`],
      ["Dead letters", recent ? fmt.n(recent.dead_letters) : "unknown", `last ${data.recent_minutes} min`],
      ["Dead letters waiting", fmt.n(data.dead_letters_waiting), "in the queue"],
      ["Users", fmt.n(data.users), "profiles stored"],
      ["Model serving", data.model_version ?? "none", data.model_version ? "" : "answers come from live popularity"],
    ];
    const alarms = data.alarms === null
      ? empty("This stack cannot tell which alarms fire (no STACK_NAME or no permission).")
      : data.alarms.length
        ? table([["Alarm", (a) => a.name], ["Since", (a) => fmt.time(a.since)], ["Why", (a) => a.reason]], data.alarms)
        : h("p", { class: "ok" }, "No alarm in ALARM.");
    const minutes = data.minutes.map((m) => ({ x: fmt.time(m.at).slice(11, 16) + " UTC", y: m.events }));
    fill(main, 
      h("h2", { class: "view-title" }, "Overview"),
      h("div", { class: "tiles" }, tiles.map(([name, value, note]) =>
        h("div", { class: "tile" }, h("span", { class: "tile-name" }, name), h("strong", { class: "tile-value" }, value), h("span", { class: "tile-note" }, note)))),
      section("Events applied per minute (last 30 minutes)",
        minutes.some((m) => m.y > 0) ? columnChart(minutes, { label: "events applied per minute" }) : empty("No event in the last 30 minutes: send some to the stream or with POST /events.")),
      section("Alarms", alarms),
      section("Service", facts([
        ["Release", health.version],
        ["Experiments running", data.experiments_running === null ? "unknown (unreadable now)" : data.experiments_running.join(", ") || "none"],
        ["Read at", fmt.time(data.at)],
      ])),
    );
  };
  await draw();
  const timer = setInterval(() => draw().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}
