// Segments: definitions and sizes; one segment's rule (editable), background evaluation, members
// (paged) and audience exports.
import { api, path } from "./api.js";
import { empty, errorBox, facts, fill, fmt, form, h, pager, section, table } from "./ui.js";

const PAGE = 25, MAX_POLLS = 600; // an export's status: once a second for ten minutes at most

export async function render(main, name, ctx) {
  return name ? detail(main, name, ctx) : list(main, ctx);
}

async function list(main, { go }) {
  const data = await api("GET", "/segments");
  const rows = data.segments;
  const families = data.families.flatMap((f) => f.segments.map((s) => ({ ...s, family: f.family })));
  const create = ruleEditor("", { rule: [{ feature: "purchases", op: ">=", value: 1 }], description: "", marketing: true },
    async (segment) => go(`#/segments/${encodeURIComponent(segment)}`));
  fill(main, 
    h("h2", { class: "view-title" }, "Segments"),
    section("Defined segments", rows.length ? table([
      ["Segment", (s) => h("a", { href: `#/segments/${encodeURIComponent(s.name)}` }, s.name)],
      ["Members", (s) => fmt.n(s.members)],
      ["Marketing", (s) => (s.marketing ? "yes" : "no")],
      ["Rule", (s) => ruleText(s.rule)],
      ["Description", (s) => s.description],
    ], rows) : empty("No segment is defined.")),
    section("Generated segments (families)", families.length ? table([
      ["Segment", (s) => h("a", { href: `#/segments/${encodeURIComponent(s.name)}` }, s.name)],
      ["Family", (s) => s.family],
      ["Members", (s) => fmt.n(s.members)],
    ], families.sort((a, b) => b.members - a.members).slice(0, 30)) : empty("No family segment has members yet.")),
    section("Define a new segment", create),
  );
}

function ruleText(rule) {
  return rule.map((c) => `${c.feature} ${c.op} ${JSON.stringify(c.value)}`).join(" and ") || "generated";
}

function ruleEditor(name, definition, done) {
  const outcome = h("div", { "aria-live": "polite" });
  const fields = [
    { name: "rule", label: "Rule (JSON: all conditions must hold)", type: "textarea", value: JSON.stringify(definition.rule, null, 1), required: true },
    { name: "description", label: "Description", value: definition.description },
    { name: "marketing", label: "Marketing audience", options: ["yes", "no"], value: definition.marketing ? "yes" : "no" },
  ];
  if (!name) fields.unshift({ name: "name", label: "Name (a-z, 0-9, _)", required: true });
  const editor = form(fields, name ? "Save the definition" : "Define", async (values) => {
    let rule;
    try {
      rule = JSON.parse(values.rule);
    } catch (error) {
      outcome.replaceChildren(errorBox(new Error(`the rule is not JSON: ${error.message}`)));
      return;
    }
    const segment = name || values.name.trim();
    try {
      const saved = await api("PUT", path`/segments/${segment}`, {
        body: { rule, description: values.description, marketing: values.marketing === "yes" },
      });
      outcome.replaceChildren(h("p", { class: "ok" }, `Saved as version ${saved.version}; existing profiles are evaluated in the background.`));
      await done(segment);
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  });
  editor.classList.add("rule-editor");
  return h("div", {}, editor, outcome);
}

async function detail(main, name, { go, say }) {
  const segment = await api("GET", path`/segments/${name}`);
  const members = h("div", { id: "members" });
  const pages = [null];
  const showPage = async (index) => {
    const page = await api("GET", path`/segments/${name}/users`, { query: { limit: PAGE, cursor: pages[index] } });
    pages[index + 1] = page.next_cursor;
    members.replaceChildren(
      page.users.length ? table([
        ["User", (m) => h("a", { href: `#/user/${encodeURIComponent(m.user_id)}` }, m.user_id)],
        ["Joined", (m) => fmt.time(m.joined_at)],
      ], page.users) : empty("No member yet."),
      pager(index, Boolean(page.next_cursor), showPage),
    );
  };
  const e = segment.evaluation;
  const editable = segment.rule.length > 0;
  const remove = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!confirm(`Delete segment ${name}? Its members leave it in the background.`)) return;
    try {
      await api("DELETE", path`/segments/${name}`);
      say(`Segment ${name} deleted.`);
      go("#/segments");
    } catch (error) {
      remove.after(errorBox(error));
    }
  } }, "Delete this segment");
  fill(main, 
    h("p", {}, h("a", { href: "#/segments" }, "← all segments")),
    h("h2", { class: "view-title" }, `Segment ${segment.name}`),
    facts([
      ["Members", fmt.n(segment.member_count)],
      ["Rule", ruleText(segment.rule)],
      ["Description", segment.description || "–"],
      ["Marketing audience", segment.marketing ? "yes" : "no"],
      ["Version", segment.builtin ? `${segment.version} (built in)` : String(segment.version)],
      ["Background evaluation", `${e.status}: ${fmt.n(e.scanned)} profiles scanned, ${fmt.n(e.joined)} joined, ${fmt.n(e.left)} left`],
    ]),
    section("Members", members),
    section("Export the audience", exporter(name)),
    editable ? section("Change the rule", ruleEditor(name, segment, async () => go(`#/segments/${encodeURIComponent(name)}`)), remove) : null,
  );
  await showPage(0);
  return null;
}

function exporter(name) {
  const outcome = h("div", { "aria-live": "polite", id: "export-outcome" });
  let timer = null, polls = 0; // polling stops when done, when the view is left, or after MAX_POLLS
  const start = form([
    { name: "format", label: "Format", options: ["csv", "jsonl"], value: "csv" },
    { name: "fields", label: "Profile fields (comma list, optional)" },
  ], "Start export", async (values) => {
    const body = { format: values.format };
    const fields = values.fields.split(",").map((f) => f.trim()).filter(Boolean);
    if (fields.length) body.fields = fields;
    try {
      const job = await api("POST", path`/segments/${name}/exports`, { body });
      const poll = async () => {
        const state = await api("GET", path`/exports/${job.export_id}`);
        outcome.replaceChildren(h("p", {}, `Export ${state.export_id}: ${state.status}, ${fmt.n(state.rows)} rows`,
          state.url ? [" ", h("a", { href: state.url, download: "" }, "download")] : null,
          state.error ? ` (${state.error})` : null));
        polls += 1;
        if (state.status === "done" || state.status === "failed" || !outcome.isConnected || polls >= MAX_POLLS) clearInterval(timer);
      };
      clearInterval(timer);
      polls = 0;
      timer = setInterval(() => poll().catch((error) => { clearInterval(timer); outcome.replaceChildren(errorBox(error)); }), 1000);
      await poll();
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  });
  return h("div", {}, start, outcome);
}
