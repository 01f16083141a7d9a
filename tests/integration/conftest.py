from typing import Any

import pytest

from tests.conftest import AwsStack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def updater(aws_stack: AwsStack):
    handler = aws_stack.handler("ProfileUpdaterFunction")

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return handler(event, aws_stack.context("ProfileUpdaterFunction"))

    call.dependencies = aws_stack.dependencies("ProfileUpdaterFunction")  # type: ignore[attr-defined]
    return call
