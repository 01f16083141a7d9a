// Experiments: the list with status; one experiment's results with intervals, lifts and a chart, stop
// and promote.
import { api, path } from "./api.js";
import { empty, errorBox, facts, fill, fmt, h, intervalChart, section, table } from "./ui.js";

export async function render(main, id, ctx) {
  return id ? results(main, id, ctx) : list(main);
}

async function list(main) {
  const data = await api("GET", "/experiments");
  fill(main, 
    h("h2", { class: "view-title" }, "Experiments"),
    data.experiments.length ? table([
      ["Experiment", (e) => h("a", { href: `#/experiments/${encodeURIComponent(e.experiment_id)}` }, e.experiment_id)],
      ["Status", (e) => e.status],
      ["Variants", (e) => e.variants.map((v) => `${v.name} (${v.weight}, ${serveText(v.serve)})`).join("; ")],
      ["Started", (e) => fmt.time(e.started_at)],
      ["Description", (e) => e.description ?? ""],
    ], data.experiments) : empty("No experiment yet: define one with PUT /experiments/{id} (see the README's Experiments section)."),
  );
  return null;
}

function serveText(serve) {
  if (serve.strategy === "model") return `model ${serve.model_version}`;
  if (serve.strategy === "frozen") return `frozen at ${fmt.time(serve.as_of)}`;
  return serve.strategy;
}

function liftText(lift) {
  if (lift.lift === null) return "no data";
  return `${fmt.signed(lift.lift)} [${fmt.signed(lift.low)}, ${fmt.signed(lift.high)}], p ${lift.p_value.toPrecision(2)}`;
}

async function results(main, id, { go, say }) {
  const [experiment, r] = await Promise.all([api("GET", path`/experiments/${id}`), api("GET", path`/experiments/${id}/results`)]);
  const outcome = h("div", { "aria-live": "polite" });
  const running = experiment.status === "running";
  const stop = running ? h("button", { type: "button", class: "danger", onclick: async () => {
    try {
      await api("DELETE", path`/experiments/${id}`);
      say(`Experiment ${id} stopped; its results are kept.`);
      go(`#/experiments/${encodeURIComponent(id)}`);
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  } }, "Stop the experiment") : null;
  const promotable = experiment.variants.filter((v) => v.serve.strategy === "model").map((v) => v.name);
  const promoteButtons = experiment.promoted ? null : r.variants.filter((v) => promotable.includes(v.name)).map((v) => h("button", { type: "button", onclick: async () => {
    if (!confirm(`Serve variant ${v.name}'s model to everyone and stop the experiment?`)) return;
    try {
      await api("POST", path`/experiments/${id}/promote`, { body: { variant: v.name } });
      say(`Variant ${v.name} promoted.`);
      go(`#/experiments/${encodeURIComponent(id)}`);
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  } }, `Promote ${v.name}`));
  const ctr = r.variants.map((v) => ({ name: v.name, ...v.click_through_rate }));
  const exposed = r.variants.some((v) => v.exposures > 0);
  fill(main, 
    h("p", {}, h("a", { href: "#/experiments" }, "← all experiments")),
    h("h2", { class: "view-title" }, `Experiment ${id}`),
    h("p", { class: "summary", id: "summary" }, r.summary),
    r.sample_ratio.mismatch ? h("p", { class: "error", role: "alert" }, `Sample-ratio mismatch (p ${r.sample_ratio.p_value.toPrecision(2)}): the split is broken, distrust these figures.`) : null,
    facts([["Status", experiment.status], ["Control", r.control], ["Started", fmt.time(r.started_at)],
      ["Promoted", experiment.promoted ? `${experiment.promoted.variant ?? ""} ${experiment.promoted.model_version ?? ""}` : "no"]]),
    section("Click-through rate with 95 % intervals", exposed ? intervalChart(ctr, { label: "click-through rate per variant with 95 % intervals" }) : empty("No exposure yet: no user has been answered under this experiment.")),
    section("Variants", table([
      ["Variant", (v) => v.name], ["Users", (v) => fmt.n(v.users)], ["Exposures", (v) => fmt.n(v.exposures)],
      ["Clicks", (v) => fmt.n(v.clicks)], ["Conversions", (v) => fmt.n(v.conversions)], ["Revenue", (v) => v.revenue.toFixed(2)],
      ["CTR [95 %]", (v) => `${fmt.pct(v.click_through_rate.value)} [${fmt.pct(v.click_through_rate.low)}, ${fmt.pct(v.click_through_rate.high)}]`],
      ["Conversion [95 %]", (v) => `${fmt.pct(v.conversion_rate.value)} [${fmt.pct(v.conversion_rate.low)}, ${fmt.pct(v.conversion_rate.high)}]`],
      ["Revenue per user", (v) => `${v.revenue_per_user.value.toFixed(2)} [${v.revenue_per_user.low.toFixed(2)}, ${v.revenue_per_user.high.toFixed(2)}]`],
    ], r.variants)),
    section("Lift over the control", r.lifts.length ? table([
      ["Variant", (l) => l.variant], ["Click-through", (l) => liftText(l.click_through_rate)],
      ["Conversion", (l) => liftText(l.conversion_rate)], ["Revenue per user", (l) => liftText(l.revenue_per_user)],
    ], r.lifts) : empty("One variant only: nothing to compare.")),
    section("Decide", h("p", { class: "actions" }, stop, promoteButtons),
      promotable.length ? null : h("p", { class: "note" }, "No variant serves a model version of its own: there is nothing to promote."), outcome),
  );
  return null;
}
