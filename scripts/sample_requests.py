"""The API requests ``events/api/`` holds (and the collector's): valid ``sam local invoke -e`` inputs,
one per route of the template. ``scripts.make_sample_events`` writes them."""

from __future__ import annotations

SAMPLE_ERASURE = "5f4f3b1c2d7e4c559a1e0d6b8e3f2a10"  # the job in eraser/ and api/get_erasure.json
SAMPLE_EXPORT = "exp_5f0c2a4e0b7d4f5e9a416a3c"  # the job get_export.json asks about
API_SAMPLES: list[tuple[str, str, str, str, str, dict[str, object] | None]] = [
    # file, template path, method, concrete path, query, body
    ("api/get_health.json", "/health", "GET", "/health", "", None),
    ("api/swagger.json", "/swagger", "GET", "/swagger", "format=json", None),
    (
        "api/get_recommendations.json",
        "/users/{user_id}/recommendations",
        "GET",
        "/users/alice/recommendations",
        "k=5&explain=true&exclude=shoe-7,shoe-9",
        None,
    ),
    (
        "api/rank.json",
        "/users/{user_id}/rank",
        "POST",
        "/users/alice/rank",
        "",
        {"item_ids": ["shoe-42", "movie-50", "unknown-1"], "explain": True},
    ),
    ("api/similar_items.json", "/items/{item_id}/similar", "GET", "/items/shoe-42/similar", "k=5", None),
    ("api/popular.json", "/popular", "GET", "/popular", "k=5&category=Shoes&window=24h", None),
    ("api/get_profile.json", "/users/{user_id}/profile", "GET", "/users/alice/profile", "", None),
    ("api/delete_user.json", "/users/{user_id}", "DELETE", "/users/alice", "", None),
    ("api/get_erasure.json", "/erasures/{erasure_id}", "GET", "/erasures/" + SAMPLE_ERASURE, "", None),
    ("api/list_segments.json", "/segments", "GET", "/segments", "", None),
    ("api/segment_users.json", "/segments/{segment}/users", "GET", "/segments/new_users/users", "limit=2", None),
    (
        "api/put_segment.json",
        "/segments/{segment}",
        "PUT",
        "/segments/big_basket_shoppers",
        "",
        {
            "rule": [
                {"feature": "total_spend", "op": ">=", "value": 200},
                {"feature": "cart_items", "op": ">=", "value": 3},
            ],
            "description": "Spent 200 or more and holds 3 or more items in the cart",
            "marketing": True,
        },
    ),
    (
        "api/export_segment.json",
        "/segments/{segment}/exports",
        "POST",
        "/segments/new_users/exports",
        "",
        {"format": "csv", "fields": ["last_seen", "total_spend", "segments"]},
    ),
    ("api/get_export.json", "/exports/{export_id}", "GET", "/exports/" + SAMPLE_EXPORT, "", None),
    ("api/get_segment.json", "/segments/{segment}", "GET", "/segments/new_users", "", None),
    ("api/delete_segment.json", "/segments/{segment}", "DELETE", "/segments/high_spenders", "", None),
    (
        "api/put_experiment.json",
        "/experiments/{experiment_id}",
        "PUT",
        "/experiments/realtime-vs-popular",
        "",
        {
            "description": "Real-time profiles against live popularity",
            "variants": [
                {"name": "popular", "weight": 1, "serve": {"strategy": "popular"}},
                {"name": "realtime", "weight": 1, "serve": {"strategy": "default"}},
            ],
        },
    ),
    ("api/list_experiments.json", "/experiments", "GET", "/experiments", "", None),
    ("api/get_experiment.json", "/experiments/{experiment_id}", "GET", "/experiments/realtime-vs-popular", "", None),
    (
        "api/stop_experiment.json",
        "/experiments/{experiment_id}",
        "DELETE",
        "/experiments/realtime-vs-popular",
        "",
        None,
    ),
    (
        "api/experiment_results.json",
        "/experiments/{experiment_id}/results",
        "GET",
        "/experiments/realtime-vs-popular/results",
        "",
        None,
    ),
    (
        "api/promote_variant.json",
        "/experiments/{experiment_id}/promote",
        "POST",
        "/experiments/realtime-vs-popular/promote",
        "",
        {"variant": "realtime"},
    ),
    (
        "collector/post_events.json",
        "/events",
        "POST",
        "/events",
        "",
        {
            "events": [
                {
                    "event_id": "evt-0001",
                    "event_type": "view",
                    "user_id": "alice",
                    "timestamp": "2024-06-01T12:00:00Z",
                    "item_id": "shoe-42",
                    "session_id": "s-a1",
                    "item": {"category": ["Sports", "Shoes"], "price": 129.0},
                },
                {
                    "event_id": "evt-0002",
                    "event_type": "rate",
                    "user_id": "alice",
                    "timestamp": 1717243300,
                    "item_id": "movie-50",
                    "value": 9,
                },
            ]
        },
    ),
    (
        "catalog/put_item.json",
        "/items/{item_id}",
        "PUT",
        "/items/shoe-42",
        "",
        {"title": "Trail 3", "categories": ["Sports", "Shoes"], "brand": "Acme", "price": 129.0, "currency": "EUR"},
    ),
    ("catalog/patch_item.json", "/items/{item_id}", "PATCH", "/items/shoe-42", "", {"available": False}),
    ("catalog/get_item.json", "/items/{item_id}", "GET", "/items/shoe-42", "", None),
    (
        "catalog/post_items.json",
        "/items",
        "POST",
        "/items",
        "",
        {"items": [{"item_id": "shoe-43", "title": "Road 2", "categories": ["Sports", "Shoes"]}, {"title": "no id"}]},
    ),
    ("catalog/delete_item.json", "/items/{item_id}", "DELETE", "/items/shoe-43", "", None),
]
