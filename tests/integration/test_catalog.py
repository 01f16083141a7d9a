"""The catalogue routes against DynamoDB on moto, every answer checked against the spec."""

from typing import Any

import pytest

from tests.conftest import AwsStack
from tests.integration.test_api_contract import call

ITEM = "/items/{item_id}"


@pytest.fixture
def items(aws_stack: AwsStack) -> Any:
    fn = aws_stack.handler("CatalogFunction")

    def route(method: str, path: str, template: str = ITEM, body: Any = None) -> tuple[int, Any]:
        return call(fn, aws_stack, "CatalogFunction", method, path, template, body=body)

    return route


def test_an_item_is_created_changed_read_and_deleted(items: Any) -> None:
    shoe = {"title": "Trail 3", "categories": ["Shoes", "Running"], "brand": "Acme", "price": 89.5, "currency": "EUR"}
    status, body = items("PUT", "/items/sku-1", body=shoe | {"tags": ["new"], "attributes": {"size": "42"}})
    assert status == 201 and body["available"] is True and body["categories"] == ["Shoes", "Running"]
    created = body["created_at"]
    status, body = items("PUT", "/items/sku-1", body=shoe | {"price": 79.0})
    assert status == 200 and body["price"] == 79.0 and body["tags"] == [] and body["created_at"] == created
    status, body = items("PATCH", "/items/sku-1", body={"available": False})
    assert status == 200 and body["available"] is False and body["price"] == 79.0 and body["title"] == "Trail 3"
    assert items("GET", "/items/sku-1")[1]["available"] is False
    assert items("DELETE", "/items/sku-1") == (204, None)
    assert items("GET", "/items/sku-1")[0] == 404
    assert items("PATCH", "/items/sku-1", body={"price": 1.0})[0] == 404
    assert items("DELETE", "/items/sku-1") == (204, None)  # idempotent
    assert items("PUT", "/items/sku-1", body=shoe)[0] == 201  # put again: a new item


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": 1e12}, "price"),
        ({"currency": "euro"}, "currency"),
        ({"categories": ["x"] * 11}, "categories"),
        ({"attributes": {f"k{i}": i for i in range(51)}}, "attributes"),
        ({"created_at": "2026-12-01T10:00:00"}, "created_at"),
        ({"colour": "red"}, "colour"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_fields_are_400_naming_the_field_and_store_nothing(items: Any, body: dict[str, Any], field: str) -> None:
    status, answer = items("PUT", "/items/sku-bad", body=body)
    assert status == 400 and field in answer["error"]["message"], answer
    assert items("GET", "/items/sku-bad")[0] == 404


def test_a_batch_stores_the_valid_items_and_lists_the_others(items: Any) -> None:
    batch = [{"item_id": f"b{i}", "title": f"Item {i}", "categories": ["Books"]} for i in range(30)]
    batch[3] = {"item_id": "b3", "price": "free"}
    batch[7] = {"title": "no id"}
    status, body = items("POST", "/items", "/items", body={"items": batch})
    assert status == 200 and body["accepted"] == 28
    assert [r["index"] for r in body["rejected"]] == [3, 7]
    assert "price" in body["rejected"][0]["error"] and "item_id" in body["rejected"][1]["error"]
    assert items("GET", "/items/b29")[1]["title"] == "Item 29"
    assert items("GET", "/items/b3")[0] == 404
    assert items("POST", "/items", "/items", body={"items": []})[0] == 400
