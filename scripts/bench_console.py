"""make bench-console: the console in headless chromium against a local stack with the browser tests'
data. Prints each view's load time (page reload to the view drawn, median) and, for test events sent
from the user view, the time to the changed profile and to the new recommendations (as the page shows
them)."""

from __future__ import annotations

import argparse
import re
import statistics
import time

from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import running_stack
from tests.e2e.console_data import SHOPPER, seed
from tests.e2e.test_console import CHROMIUM, FLAGS, VIEWS


def load_ms(page: Page, base: str, view: str) -> float:
    page.goto(f"{base}/console#/user")  # a view that calls nothing
    page.wait_for_selector("main[data-ready=true]")
    started = time.perf_counter()
    page.goto(f"{base}/console#/{view}")
    page.reload()
    page.wait_for_selector(f"main[data-view={view.split('/', maxsplit=1)[0]}][data-ready=true]")
    return (time.perf_counter() - started) * 1000


def send_test_events(page: Page, base: str, sends: int) -> tuple[list[int], list[int]]:
    page.goto(f"{base}/console#/user/{SHOPPER}")
    page.wait_for_selector("main[data-ready=true]")
    applied, listed = [], []
    for n in range(sends):
        form = page.locator("#send-event")
        form.get_by_label("Event").select_option("view")
        form.get_by_label("Item id").fill(f"m{n}")
        page.locator("#send-outcome").evaluate("node => node.replaceChildren()")
        form.get_by_role("button", name="Send test event").click()
        page.locator("#delay").wait_for(timeout=30_000)
        found = re.search(r"in (\d+) ms; new recommendations after (\d+) ms", page.locator("#delay").inner_text())
        assert found, page.locator("#delay").inner_text()
        applied.append(int(found.group(1)))
        listed.append(int(found.group(2)))
    return applied, listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="loads of each view")
    parser.add_argument("--sends", type=int, default=10, help="test events sent from the user view")
    args = parser.parse_args()
    with running_stack(schedule_seconds=1.0) as stack, sync_playwright() as playwright:
        seed(stack)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        print(f"view load, ms (median of {args.repeats}; a reload, the API calls, the view drawn):")
        for name, view, _ in VIEWS:
            median = statistics.median(load_ms(page, stack.api_url, view) for _ in range(args.repeats))
            print(f"  {name:12} {median:6.0f}")
        applied, listed = send_test_events(page, stack.api_url, args.sends)
        for label, values in (("profile changed", applied), ("new recommendations", listed)):
            print(f"test event -> {label}, ms: p50 {statistics.median(values):.0f}, max {max(values)} ({values})")
        browser.close()


if __name__ == "__main__":
    main()
