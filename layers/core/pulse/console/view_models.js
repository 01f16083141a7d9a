// Models: every published version with its offline figures and the gate's decision, which one
// serves; promote (through the gate, or forced) and roll back.
import { api, path } from "./api.js";
import { empty, errorBox, facts, fill, fmt, h, section, table } from "./ui.js";

export async function render(main, _arg, { go, say }) {
  const data = await api("GET", "/models");
  const outcome = h("div", { "aria-live": "polite", id: "model-outcome" });
  const act = async (call, what) => {
    try {
      const pointer = await call();
      say(`${what}: ${pointer.version} serves within ${pointer.applies_within_seconds} s.`);
      go("#/models");
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  };
  const promote = (version, force) => act(
    () => api("POST", path`/models/${version}/promote`, { body: { force } }), force ? `Forced ${version}` : `Promoted ${version}`);
  const pointer = data.pointer;
  const rows = data.versions;
  const figure = (v, name) => (v.test?.[name] === undefined ? "–" : v.test[name].toFixed(4));
  const gate = (v) => (!v.gate ? "no gate (published before it)" : `${v.gate.promote ? "passed" : "refused"}: ${v.gate.reason}`);
  fill(main, 
    h("h2", { class: "view-title" }, "Models"),
    section("Serving", pointer ? facts([
      ["Version", pointer.version],
      ["Since", fmt.time(pointer.promoted_at)],
      ["Promoted by", pointer.promoted_by ?? pointer.rolled_back_by ?? "pulse command"],
      ["Earlier versions", (pointer.history ?? []).join(", ") || "none"],
    ]) : empty("No model yet: answers come from live popularity and the profiles' affinities. Train one with `pulse train` (or let the retraining schedule do it)."),
    pointer?.history?.length ? h("button", { type: "button", id: "rollback", onclick: () => act(() => api("POST", "/models/rollback"), "Rolled back") }, `Roll back to ${pointer.history[0]}`) : null),
    section("Published versions", data.total_versions > rows.length
      ? h("p", { class: "note" }, `${rows.length} of ${data.total_versions} versions: the newest, the one serving and the one before it (pulse models lists every one).`)
      : null, rows.length ? table([
      ["Version", (v) => (v.serving ? h("strong", {}, `${v.version} (serving)`) : v.version)],
      ["Events", (v) => fmt.n(v.events)],
      ["Items", (v) => fmt.n(v.items)],
      ["HR@10", (v) => figure(v, "hr@10")],
      ["NDCG@10", (v) => figure(v, "ndcg@10")],
      ["Baselines NDCG@10", (v) => Object.entries(v.baselines ?? {}).map(([k, x]) => `${k} ${x === null ? "–" : x.toFixed(4)}`).join(", ") || "–"],
      ["Gate", (v) => (v.error ? v.error : gate(v))],
      ["", (v) => (v.serving || v.error ? "" : v.gate && !v.gate.promote
        ? h("button", { type: "button", class: "danger", onclick: () => confirm(`The gate refused ${v.version}. Serve it anyway?`) && promote(v.version, true) }, "Force")
        : h("button", { type: "button", onclick: () => promote(v.version, false) }, "Promote"))],
    ], rows) : empty("No version is published yet.")),
    outcome,
  );
  return null;
}
