"""The console against a stack that checks keys, as a deployed stage does: the page loads without a
key and says what is missing; the key entered once opens every view for the tab's session only."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Error

from infrastructure.local_stack import LocalStack
from tests.e2e.conftest import running_stack
from tests.e2e.test_console import browser

__all__ = ["browser"]  # the module's browser fixture
KEY = "pulse_console-test-key-0123456789abcdefghijklmnopq"


@pytest.fixture(scope="module")
def keyed() -> Iterator[LocalStack]:
    with running_stack(api_key=KEY) as stack:
        yield stack


def test_the_key_is_asked_for_kept_for_the_tab_and_forgotten(keyed: LocalStack, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    uncaught: list[Error] = []
    page.on("pageerror", lambda error: uncaught.append(error))  # noqa: PLW0108  # Playwright needs a Python function
    page.goto(f"{keyed.api_url}/console#/overview")  # the page itself needs no key
    page.wait_for_selector("main[data-ready=true]")
    assert "enter an API key with the admin scope" in page.locator("main .error").inner_text()

    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Use").click()
    page.wait_for_selector("main[data-ready=true] >> text=Events applied")
    assert not page.locator("main .error").count()
    page.reload()  # the same tab: the key is still there
    page.wait_for_selector("main[data-ready=true] >> text=Events applied")
    assert page.evaluate("sessionStorage.getItem('pulse.apiKey')") == KEY
    assert page.evaluate("localStorage.length") == 0 and not context.cookies()  # never stored beyond the tab

    other = context.new_page()  # another tab starts without it
    other.goto(f"{keyed.api_url}/console#/models")
    other.wait_for_selector("main[data-ready=true]")
    assert other.locator("main .error").count() == 1

    page.get_by_role("button", name="Forget").click()
    page.wait_for_selector("main[data-ready=true] >> .error")
    assert page.evaluate("sessionStorage.getItem('pulse.apiKey')") is None and not uncaught
    context.close()


EMPTY = [
    ("overview", "answers come from live popularity"),
    ("user", "Enter a user id"),
    ("risk", "No user is flagged"),
    ("models", "No model yet: answers come from live popularity"),
    ("experiments", "No experiment yet"),
]


def test_an_empty_stack_shows_what_is_missing_and_no_error(keyed: LocalStack, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{keyed.api_url}/console#/user")  # a view that calls nothing before the key is set
    page.evaluate(f"sessionStorage.setItem('pulse.apiKey', '{KEY}')")
    for view, says in EMPTY:
        page.goto(f"{keyed.api_url}/console#/{view}")
        page.reload()
        page.wait_for_selector(f"main[data-view={view}][data-ready=true]")
        assert says in page.locator("main").inner_text(), view
        assert not page.locator("main .error").count(), view
    assert not problems
    context.close()
