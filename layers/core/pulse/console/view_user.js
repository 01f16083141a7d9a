// User: the profile's sections, the latest events (live), recommendations with reasons, and a form that
// sends a test event and shows the recommendations change, with the measured delay.
import { api, ApiError, path } from "./api.js";
import { bars, empty, errorBox, facts, fill, fmt, form, h, section, table } from "./ui.js";

const POLL_MS = 150, WAIT_MS = 15000, LIVE_MS = 3000;
const TYPES = ["view", "click", "add_to_cart", "purchase", "rate", "like", "dislike", "search", "remove_from_cart"];

async function profileOf(userId) {
  try {
    return await api("GET", path`/users/${userId}/profile`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function recommendationsOf(userId) {
  return api("GET", path`/users/${userId}/recommendations`, { query: { k: 10, explain: "true" } });
}

function profileSections(profile) {
  if (!profile) return [empty("No profile yet: this user has sent no event. Recommendations below are a cold start; send a test event to create the profile.")];
  const b = profile.behavior, p = profile.preferences, i = profile.intent;
  return [
    section("Traits", Object.keys(profile.traits).length ? facts(Object.entries(profile.traits).map(([k, v]) => [k, String(v)])) : empty("no traits (no identify event)")),
    section("Behaviour", facts([
      ["Events", fmt.n(b.total_events)], ["Sessions", fmt.n(b.sessions)], ["Spend", b.total_spend.toFixed(2)],
      ["First seen", b.first_seen ?? "–"], ["Last seen", b.last_seen ?? "–"],
      ["Counts", Object.entries(b.counts).map(([k, v]) => `${k} ${v}`).join(", ") || "–"],
    ])),
    section("Preferences (time-decayed)",
      h("div", { class: "columns" },
        h("div", {}, h("h3", {}, "Categories"), bars(p.categories)),
        h("div", {}, h("h3", {}, "Brands"), bars(p.brands)),
        h("div", {}, h("h3", {}, "Price bands"), bars(p.price_bands)))),
    section("Intent (this session)", facts([
      ["Session", i.session_id ?? "–"],
      ["Cart", Object.entries(i.cart).map(([k, v]) => `${k} × ${v}`).join(", ") || "empty"],
      ["Recent queries", i.recent_queries.join(", ") || "–"],
      ["Shopping for", Object.keys(i.categories).join(", ") || "–"],
    ])),
    section("Segments", profile.segments.length
      ? h("ul", { class: "chips" }, profile.segments.map((s) => h("li", {}, h("a", { href: `#/segments/${encodeURIComponent(s)}` }, s))))
      : empty("in no segment")),
    section("Risk", facts([["Score", profile.risk.score.toFixed(2)], ["Flags", profile.risk.flags.join(", ") || "none"]])),
  ];
}

function feed(profile) {
  const recent = profile?.behavior.recent_interactions ?? [];
  if (!recent.length) return empty("no event yet");
  return table([["When", (e) => e.at ?? "–"], ["Event", (e) => e.event_type], ["Item", (e) => e.item_id], ["Value", (e) => e.value ?? ""]], recent, "Latest events, newest first");
}

function recommendationList(answer, before) {
  if (!answer.items.length) return empty("nothing to recommend yet");
  const earlier = new Map((before?.items ?? []).map((item, rank) => [item.item_id, rank]));
  return h("ol", { class: "recs", "aria-label": "Recommendations" }, answer.items.map((item, rank) => {
    let change = "";
    if (before) change = !earlier.has(item.item_id) ? "new" : earlier.get(item.item_id) > rank ? "up" : earlier.get(item.item_id) < rank ? "down" : "";
    const title = item.metadata?.title ?? item.item_id;
    return h("li", { "data-item": item.item_id, class: change },
      h("span", { class: "rec-title" }, title), " ", h("span", { class: "rec-score" }, item.score === null ? "" : item.score.toFixed(3)),
      change ? h("span", { class: "rec-change" }, change) : null,
      item.reasons?.length ? h("span", { class: "rec-reasons" }, item.reasons.join("; ")) : null);
  }));
}

export async function render(main, userId, { go, say }) {
  const lookup = form([{ name: "user", label: "User id", value: userId, required: true }], "Look up", ({ user }) => go(`#/user/${encodeURIComponent(user.trim())}`));
  if (!userId) {
    fill(main, h("h2", { class: "view-title" }, "User"), lookup, empty("Enter a user id to see the profile, the latest events and the recommendations."));
    return null;
  }
  let [profile, answer] = await Promise.all([profileOf(userId), recommendationsOf(userId)]);
  const profileBox = h("div", { id: "profile" }, profileSections(profile));
  const feedBox = h("div", { id: "feed" }, feed(profile));
  const recsBox = h("div", { id: "recommendations" }, recommendationList(answer));
  const recsNote = h("p", { id: "recs-note", class: "note", "aria-live": "polite" }, answerNote(answer));
  const itemChoices = h("datalist", { id: "item-choices" }, answer.items.map((i) => h("option", { value: i.item_id })));
  const outcome = h("div", { id: "send-outcome", "aria-live": "polite" });

  const send = form([
    { name: "event_type", label: "Event", options: TYPES, value: "view" },
    { name: "item_id", label: "Item id", value: answer.items[0]?.item_id ?? "", list: "item-choices" },
    { name: "category", label: "Category (optional)" },
    { name: "value", label: "Value (rating or price)", type: "number", step: "any" },
    { name: "query", label: "Query (search)" },
  ], "Send test event", async (values) => {
    outcome.replaceChildren(h("p", {}, "Sending…"));
    try {
      const result = await sendAndWatch(userId, values, profile, answer);
      outcome.replaceChildren(h("p", { class: "ok", id: "delay" }, result.text));
      profile = result.profile;
      if (result.answer) {
        recsBox.replaceChildren(recommendationList(result.answer, answer));
        answer = result.answer;
        recsNote.textContent = answerNote(answer);
      }
      profileBox.replaceChildren(...profileSections(profile));
      feedBox.replaceChildren(feed(profile));
      say(result.text);
    } catch (error) {
      outcome.replaceChildren(errorBox(error));
    }
  });
  send.id = "send-event";

  const live = h("input", { type: "checkbox", id: "live", checked: true });
  fill(main, 
    h("h2", { class: "view-title" }, `User ${userId}`), lookup,
    h("div", { class: "columns wide" },
      h("div", {}, section("Recommendations", recsNote, recsBox),
        section("Send a test event", itemChoices, send, outcome),
        section("Latest events", h("p", {}, live, h("label", { for: "live" }, " refresh every 3 s")), feedBox)),
      h("div", {}, profileBox)),
  );
  const timer = setInterval(async () => {
    if (!live.checked) return;
    const fresh = await profileOf(userId).catch(() => null);
    if (fresh && (!profile || fresh.version !== profile.version)) {
      profile = fresh;
      profileBox.replaceChildren(...profileSections(profile));
      feedBox.replaceChildren(feed(profile));
    }
  }, LIVE_MS);
  return () => clearInterval(timer);
}

function answerNote(answer) {
  const model = answer.model_version ? `model ${answer.model_version}` : "no model yet: answers come from live popularity";
  const experiment = answer.experiment ? `, experiment ${answer.experiment} (variant ${answer.variant})` : "";
  return `${model}${experiment}; recommendation id ${answer.recommendation_id}`;
}

async function sendAndWatch(userId, values, before, answerBefore) {
  const event = {
    event_id: crypto.randomUUID(), event_type: values.event_type, user_id: userId, timestamp: Date.now() / 1000,
    context: { channel: "console" },
  };
  if (values.event_type === "search") event.query = values.query || "test";
  else event.item_id = values.item_id;
  if (values.category) event.item = { category: values.category };
  if (values.value) event.value = Number(values.value);
  if (values.event_type !== "search" && answerBefore.items.some((i) => i.item_id === values.item_id)) {
    event.recommendation_id = answerBefore.recommendation_id; // attributed to the answer it came from
  }
  const started = performance.now();
  const result = await api("POST", "/events", { body: { events: [event] } });
  if (result.rejected.length) throw new Error(`the API refused the event: ${result.rejected[0].error}`);
  while (performance.now() - started < WAIT_MS) {
    const profile = await profileOf(userId);
    if (profile && (!before || profile.version !== before.version)) {
      const applied = performance.now() - started;
      const answer = await recommendationsOf(userId);
      const total = performance.now() - started;
      const changed = answer.items.map((i) => i.item_id).join() !== answerBefore.items.map((i) => i.item_id).join();
      const text = `Event applied to the profile in ${Math.round(applied)} ms; new recommendations after ${Math.round(total)} ms` +
        (changed ? " (the list changed)." : " (the list did not change).");
      return { profile, answer, text };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`the event was accepted but the profile did not change within ${WAIT_MS / 1000} s: is the updater running?`);
}
