"""What the authorizer adds to a request (a script, not a test): ``make bench-auth``.

Three local stacks answer the same cheap route (``GET /segments``) 300 times from one client:
credentials not checked; checked with the authorizer's answer cached (``AuthorizerCacheSeconds``
60, the default: the authorizer runs once per key per minute); checked on every request (0). The
differences are the local gateway's policy check and one authorizer invocation with its DynamoDB
read on moto. On AWS the cached case adds no invocation; an uncached one adds a warm Lambda call
and a GetItem (single-digit milliseconds), both outside what this machine can measure.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import requests

from infrastructure.local_stack import LocalStack, LocalStackConfig

KEY = "pulse_bench-key"
REQUESTS = 300


def measure(options: dict[str, Any], port_offset: int) -> list[float]:
    config = LocalStackConfig(aws_port=5400 + port_offset, api_port=3400 + port_offset, **options)
    config.stack_name = f"pulse-bench-auth-{port_offset}"
    with LocalStack(config) as stack, requests.Session() as http:
        url, headers = f"{stack.api_url}/segments", {"x-api-key": KEY}
        for _ in range(20):  # warm the functions (and, cached, the authorizer's answer)
            http.get(url, headers=headers, timeout=30).raise_for_status()
        took = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            http.get(url, headers=headers, timeout=30).raise_for_status()
            took.append((time.perf_counter() - start) * 1000)
        return took


def main() -> None:
    cases = {
        "not checked": {},
        "authorizer, cached 60 s": {"api_key": KEY, "parameters": {"AuthorizerCacheSeconds": "60"}},
        "authorizer on every request": {"api_key": KEY, "parameters": {"AuthorizerCacheSeconds": "0"}},
    }
    print(f"GET /segments on the local stack, {REQUESTS} requests each (ms)")
    base = None
    for offset, (name, options) in enumerate(cases.items()):
        took = sorted(measure(options, offset))
        p50, p95 = statistics.median(took), took[int(0.95 * len(took)) - 1]
        base = base if base is not None else p50
        print(f"{name:<30} p50 {p50:6.2f}  p95 {p95:6.2f}  (+{p50 - base:.2f} p50)")


if __name__ == "__main__":
    main()
