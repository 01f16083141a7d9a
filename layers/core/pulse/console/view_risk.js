// Risk: the users the risk rules flag (the risk_flagged segment), with their score and flags.
import { api, path } from "./api.js";
import { empty, fill, fmt, h, pager, section, table } from "./ui.js";

const PAGE = 50;

export async function render(main) {
  const pages = [null];
  const box = h("div", { id: "flagged" });
  const showPage = async (index) => {
    const page = await api("GET", "/segments/risk_flagged/users", { query: { limit: PAGE, cursor: pages[index] } });
    pages[index + 1] = page.next_cursor;
    const profiles = await Promise.all(page.users.map((m) =>
      api("GET", path`/users/${m.user_id}/profile`).catch(() => null)));
    const rows = page.users.map((m, i) => ({ ...m, profile: profiles[i] })).sort((a, b) => (b.profile?.risk.score ?? 0) - (a.profile?.risk.score ?? 0));
    box.replaceChildren(
      rows.length ? table([
        ["User", (r) => h("a", { href: `#/user/${encodeURIComponent(r.user_id)}` }, r.user_id)],
        ["Score", (r) => (r.profile ? [h("meter", { min: 0, max: 1, low: 0.3, high: 0.5, optimum: 0, value: r.profile.risk.score, "aria-label": `risk score of ${r.user_id}` }), ` ${r.profile.risk.score.toFixed(2)}`] : "–")],
        ["Flags", (r) => (r.profile ? r.profile.risk.flags.join(", ") : "profile unreadable")],
        ["Flagged since", (r) => fmt.time(r.joined_at)],
        ["Last seen", (r) => r.profile?.behavior.last_seen ?? "–"],
      ], rows, "Flagged users, highest score first (this page)") : empty("No user is flagged: the risk rules found nothing to review."),
      pager(index, Boolean(page.next_cursor), showPage),
    );
  };
  fill(main, 
    h("h2", { class: "view-title" }, "Risk"),
    h("p", { class: "note" }, "Users whose risk score is at or above the flag threshold. Their marketing segments stay closed; risk changes are also published to the event bus (risk.changed)."),
    section("Flagged users", box),
  );
  await showPage(0);
  return null;
}
