"""API clients on DynamoDB: one item per credential, keyed by the credential's SHA-256.

The authorizer reads one item by key (``GetItem``, eventually consistent: a new credential works
within a second, a revoked one stops at the latest when the authorizer's cached answer expires).
Operators list, create and revoke with ``pulse clients``; a table of clients is small, so listing
scans it.
"""

import time
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from pulse.access import Client, check_client_id, check_scopes, new_token, token_hash
from pulse.adapters.tables import call
from pulse.config import Settings
from pulse.ports import ClientDirectory


class ClientRecord(Model):
    class Meta:
        table_name = "pulse-clients"

    key_hash = UnicodeAttribute(hash_key=True)
    client_id = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute)
    created_at = NumberAttribute()
    usage_key = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    revoked_at = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)


def _client(record: ClientRecord) -> Client:
    return Client(
        client_id=record.client_id,
        key_hash=record.key_hash,
        scopes=tuple(str(s) for s in record.scopes or ()),
        created_at=float(record.created_at),
        usage_key=record.usage_key,
        description=record.description or "",
        revoked_at=None if record.revoked_at is None else float(record.revoked_at),
        expires_at=None if record.expires_at is None else float(record.expires_at),
    )


class DynamoClientDirectory(ClientDirectory):
    def __init__(self, settings: Settings) -> None:
        meta: Any = ClientRecord.Meta
        meta.table_name = settings.clients_table
        meta.region = settings.region
        meta.host = settings.endpoint_url
        ClientRecord._connection = None

    def find(self, token: str) -> Client | None:
        def get() -> Client | None:
            try:
                return _client(ClientRecord.get(token_hash(token)))
            except ClientRecord.DoesNotExist:
                return None

        return call(get)

    def all(self) -> list[Client]:
        found = call(lambda: [_client(r) for r in ClientRecord.scan()])
        return sorted(found, key=lambda c: (c.client_id, c.created_at))

    def of(self, client_id: str) -> list[Client]:
        return [c for c in self.all() if c.client_id == client_id]

    def create(
        self, client_id: str, scopes: list[str], usage_key: str, description: str = "", token: str | None = None
    ) -> tuple[Client, str]:
        """A new credential for ``client_id`` (a new client, or a rotation); returns it with its token,
        which is shown once and never stored."""
        token = token or new_token()
        record = ClientRecord(
            token_hash(token),
            client_id=check_client_id(client_id),
            scopes=list(check_scopes(scopes)),
            created_at=time.time(),
            usage_key=usage_key,
            description=description or None,
        )
        call(lambda: record.save(condition=ClientRecord.key_hash.does_not_exist()))
        return _client(record), token

    def end(self, client: Client, at: float, revoke: bool) -> None:
        """Revoke a credential at once (``revoke``) or let it expire at ``at`` (rotation's grace)."""
        record = ClientRecord(client.key_hash)
        action = ClientRecord.revoked_at.set(at) if revoke else ClientRecord.expires_at.set(at)
        call(lambda: record.update(actions=[action], condition=ClientRecord.key_hash.exists()))
