"""Steps 5-6: one user's answer changing with a burst, freshness over many trials, audiences and risk."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import numpy as np

from pulse.domain.events import BehaviorEvent
from scripts.demo.session import Session, say


def pick_showcase(d: Session, model: Any, history: list[BehaviorEvent]) -> tuple[str, str]:
    """An active user and a popular genre they never watched (so the burst is plainly new to them)."""
    watched: dict[str, set[str]] = defaultdict(set)
    for e in history:
        if e.item_id in model.index:
            watched[e.user_id].update(model.categories[model.index[e.item_id]])
    genres = [g for g, _ in Counter(c for cats in model.categories for c in cats).most_common() if g != "unknown"]
    active = sorted((u for u in d.sent if 20 <= d.sent[u] <= 300), key=lambda u: -d.sent[u])
    # broad genres (Drama, Comedy, Action) are everywhere; a distinct genre shows the shift best
    for genre in genres[3:15]:
        for user in active:
            if genre not in watched[user]:
                return user, genre
    user = active[0] if active else next(iter(d.sent))
    return user, next((g for g in reversed(genres) if g not in watched[user]), genres[-1])


def showcase(d: Session, model: Any, history: list[BehaviorEvent]) -> None:
    say("5. a user, their profile and recommendations; then a burst in a genre they never watched")
    user, genre = pick_showcase(d, model, history)
    d.wait_applied(user)
    profile = d.profile(user) or {}
    before = d.top10(user, explain=True)
    say(f"   user {user}: traits {profile.get('traits')}")
    say(f"   top genres {list(profile['preferences']['categories'].items())[:5]}")
    say(f"   segments {profile['segments']}   risk {profile['risk']}")
    for item in before[:5]:
        say(
            f"   - {item['metadata'].get('title')} ({', '.join(item['metadata'].get('category', []))}): "
            f"{'; '.join(item.get('reasons', []))}"
        )
    seen = {x["item_id"] for x in profile["behavior"]["recent_interactions"]}
    pool = sorted(  # films of that genre first, not multi-genre films that merely carry the tag
        (i for i in np.argsort(-model.pop)[:400] if genre in model.categories[i] and model.item_ids[i] not in seen),
        key=lambda i: (len(model.categories[i]), -float(model.pop[i])),
    )[:8]
    # stamped just after the user's latest event, in the dataset's own time: on 1998 history, today's
    # clock would decay everything before the burst away and the chart would read "forgot everything"
    now = datetime.fromisoformat(profile["behavior"]["last_seen"]).timestamp() + 60
    burst = [
        BehaviorEvent.model_validate(
            {
                "event_id": f"burst-{user}-{n}",
                "event_type": "rate",
                "user_id": user,
                "timestamp": now + n,
                "item_id": model.item_ids[i],
                "value": 5,
                "item": {"category": model.categories[i]},
            },
            context={"now": time.time()},
        )
        for n, i in enumerate(pool)
    ]
    sent_at = d.put(burst)
    after = before
    while [i["item_id"] for i in after] == [i["item_id"] for i in before] and time.perf_counter() - sent_at < 30:
        after = d.top10(user, explain=True)
    took = time.perf_counter() - sent_at
    d.wait_applied(user)
    after = d.top10(user, explain=True)
    in_genre = sum(genre in i["metadata"].get("category", []) for i in after)
    say(
        f"   burst of {len(burst)} five-star {genre} ratings: answer changed {took * 1000:.0f} ms after "
        f"PutRecords; {genre} now fills {in_genre}/10 (before: "
        f"{sum(genre in i['metadata'].get('category', []) for i in before)}/10)"
    )
    new_items = len({i["item_id"] for i in after} - {i["item_id"] for i in before})
    burst_titles = {model.metadata[i].get("title") for i in pool}
    cited = sum(any(t and t in r for t in burst_titles for r in i.get("reasons", [])) for i in after)
    say(f"   {new_items}/10 items are new; {cited}/10 are explained by the burst")
    for item in after[:5]:
        say(
            f"   + {item['metadata'].get('title')} ({', '.join(item['metadata'].get('category', []))}): "
            f"{'; '.join(item.get('reasons', []))}"
        )
    d.figures["showcase"] = {
        "user": user,
        "genre": genre,
        "changed_after_ms": round(took * 1000, 1),
        "before": [i["item_id"] for i in before],
        "after": [i["item_id"] for i in after],
        "genre_share_before": sum(genre in i["metadata"].get("category", []) for i in before),
        "genre_share_after": in_genre,
        "affinities_before": profile["preferences"]["categories"],
        "affinities": (d.profile(user) or {}).get("preferences", {}).get("categories", {}),
    }
    freshness(d, model)


def freshness(d: Session, model: Any) -> None:
    trials = d.args.trials
    users = [u for u in d.sent if d.sent[u] >= 5]
    rng = random.Random(d.args.seed)
    samples = []
    for n in range(trials):
        top: list[Any] = []
        for _ in range(20):  # a user with nothing left to recommend (everything seen) cannot show a change
            user = rng.choice(users)
            d.wait_applied(user)
            top = d.top10(user)
            if top:
                break
        if not top:
            continue
        target = top[0]["item_id"]  # rating the current #1 must change the answer (seen items are left out)
        event = BehaviorEvent.model_validate(
            {
                "event_id": f"fresh-{n}-{user}",
                "event_type": "rate",
                "user_id": user,
                "timestamp": time.time(),
                "item_id": target,
                "value": 4,
            },
            context={"now": time.time() + 60},
        )
        sent_at = d.put([event])
        while (d.top10(user) or [{"item_id": None}])[0]["item_id"] == target:
            if time.perf_counter() - sent_at > 30:
                break
            time.sleep(0.005)
        samples.append(time.perf_counter() - sent_at)
    p50, p95 = np.percentile(samples, [50, 95])
    d.figures["freshness_seconds"] = {
        "trials": len(samples),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "samples": [round(s, 3) for s in samples],
    }
    say(
        f"   freshness over {len(samples)} trials (PutRecords accepted -> changed answer): p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms (local poll interval {d.args.poll_interval} s)"
    )


def audiences(d: Session) -> None:
    say("6. marketing audiences and risk control")
    segments = d.http.get(f"{d.api}/segments", timeout=30).json()
    biggest = max(segments["segments"], key=lambda s: s["members"] if s["marketing"] else -1)
    page = d.http.get(f"{d.api}/segments/{biggest['name']}/users", params={"limit": 5}, timeout=30).json()
    say(
        f"   {biggest['name']} ({biggest['description']}): {biggest['members']} members; first page "
        f"{[u['user_id'] for u in page['users']]} next_cursor={'yes' if page['next_cursor'] else 'no'}"
    )
    fans = sorted((f for fam in segments["families"] for f in fam["segments"]), key=lambda s: -s["members"])[:3]
    say(f"   largest generated segments: {[(f['name'], f['members']) for f in fans]}")
    now = time.time()
    bot = [
        BehaviorEvent.model_validate(
            {
                "event_id": f"bot-{n}",
                "event_type": "ad_click",
                "user_id": "bot-7",
                "timestamp": now - 30 + n * 0.2,
                "item_id": f"{1 + n % 50}",
                "campaign_id": "spring",
            },
            context={"now": now + 60},
        )
        for n in range(150)
    ]
    d.put(bot)
    d.wait_applied("bot-7")
    risk = (d.profile("bot-7") or {})["risk"]
    flagged = d.http.get(f"{d.api}/segments/risk_flagged/users", timeout=30).json()
    say(
        f"   bot-7 after 150 ad clicks in 30 s: risk {risk}; in risk_flagged: "
        f"{'bot-7' in [u['user_id'] for u in flagged['users']]}"
    )
    d.figures["audience"] = {"segment": biggest["name"], "members": biggest["members"], "bot_risk": risk}
