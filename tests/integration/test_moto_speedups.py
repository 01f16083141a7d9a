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


def test_successful_transaction_and_update_fallback(ddb) -> None:
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
