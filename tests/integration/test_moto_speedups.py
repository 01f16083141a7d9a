"""The local stack's faster moto transactions still roll back exactly."""

import boto3
import pytest
from moto import mock_aws

from infrastructure import moto_speedups


@pytest.fixture
def ddb():
    moto_speedups.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "k", "AttributeType": "S"},
                {"AttributeName": "r", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        )
        client.put_item(TableName="t", Item={"k": {"S": "a"}, "r": {"S": "1"}, "v": {"N": "1"}})
        yield client


def items(client) -> list:
    return sorted((i["k"]["S"], i["r"]["S"], i.get("v", {}).get("N")) for i in client.scan(TableName="t")["Items"])


def test_failed_transaction_of_puts_and_deletes_leaves_no_trace(ddb) -> None:
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"k": {"S": "b"}, "r": {"S": "1"}}}},
                {"Delete": {"TableName": "t", "Key": {"k": {"S": "a"}, "r": {"S": "1"}}}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {"k": {"S": "c"}, "r": {"S": "1"}},
                        "ConditionExpression": "attribute_exists(k)",
                    }
                },
            ]
        )
    assert items(ddb) == [("a", "1", "1")]


def test_successful_transaction_and_a_failed_update_rolled_back(ddb) -> None:
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"k": {"S": "b"}, "r": {"S": "2"}}}},
            {"Delete": {"TableName": "t", "Key": {"k": {"S": "a"}, "r": {"S": "1"}}}},
        ]
    )
    assert items(ddb) == [("b", "2", None)]
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"k": {"S": "b"}, "r": {"S": "2"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "5"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"k": {"S": "z"}, "r": {"S": "z"}},
                        "ConditionExpression": "attribute_exists(k)",
                    }
                },
            ]
        )
    assert items(ddb) == [("b", "2", None)]


def test_a_cancelled_transaction_undoes_its_updates_of_existing_items_and_spares_the_rest(ddb) -> None:
    ddb.put_item(TableName="t", Item={"k": {"S": "#counts"}, "r": {"S": "s#00"}, "v": {"N": "3"}})
    for n in range(50):
        ddb.put_item(TableName="t", Item={"k": {"S": "big"}, "r": {"S": f"{n:03d}"}, "v": {"N": "1"}})
    before = items(ddb)
    copied: list = []
    import copy

    original = copy.deepcopy

    def counting(obj, *args, **kwargs):
        copied.append(type(obj).__name__)
        return original(obj, *args, **kwargs)

    copy.deepcopy = counting  # type: ignore[assignment]
    try:
        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"k": {"S": "#counts"}, "r": {"S": "s#00"}},
                            "UpdateExpression": "ADD v :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"k": {"S": "#counts"}, "r": {"S": "s#01"}},
                            "UpdateExpression": "ADD v :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                    {"Put": {"TableName": "t", "Item": {"k": {"S": "new"}, "r": {"S": "1"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": "t",
                            "Key": {"k": {"S": "z"}, "r": {"S": "z"}},
                            "ConditionExpression": "attribute_exists(k)",
                        }
                    },
                ]
            )
    finally:
        copy.deepcopy = original
    assert items(ddb) == before  # the counter is 3 again, the new counter and item are gone
    assert "Item" in copied and "Table" not in copied  # the updated item was deep-copied, never a table


def test_a_successful_transaction_applies_its_updates(ddb) -> None:
    add = {"UpdateExpression": "ADD v :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    ddb.transact_write_items(
        TransactItems=[
            {"Update": {"TableName": "t", "Key": {"k": {"S": "a"}, "r": {"S": "1"}}} | add},
            {"Update": {"TableName": "t", "Key": {"k": {"S": "n"}, "r": {"S": "1"}}} | add},
            {"Put": {"TableName": "t", "Item": {"k": {"S": "p"}, "r": {"S": "1"}}}},
        ]
    )
    assert items(ddb) == [("a", "1", "2"), ("n", "1", "1"), ("p", "1", None)]
