"""Catalogue function: the shop's items under /items (wiring only).

PUT creates or replaces, PATCH changes the given fields, POST /items stores a batch (each invalid item
listed with its reason, the rest stored), GET reads, DELETE removes. Serving copies learn of a change
within ``CATALOG_REFRESH_SECONDS``: an unavailable or deleted item then leaves every answer.
"""

import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.domain.catalog import ITEM_ID, CatalogItem, ItemFields
from pulse.http import errors
from pulse.http.models import CollectResult, ItemBatch
from pulse.services import catalog
from pulse.wiring import TRACED_MODULES, CatalogDependencies, Provider, build_catalog

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
errors.install_error_handlers(app)
errors.reject_unknown_query_parameters(app)
dependencies = Provider(build_catalog)
Deps = Annotated[CatalogDependencies, Depends(dependencies)]
ItemIdPath = Annotated[
    str,
    Path(
        pattern=ITEM_ID,
        min_length=1,
        max_length=128,
        description="The item's id (1-128 characters a URL carries unescaped)",
    ),
]


CREATED = {201: {"description": "Created", "content": {"application/json": {"model": CatalogItem}}}}


@app.put("/items/<item_id>", responses=errors.responses(CatalogItem, 400, 413, 415) | CREATED)
def put_item(deps: Deps, item_id: ItemIdPath, fields: Annotated[ItemFields, Body()]) -> Response[CatalogItem]:
    """Create or replace the item: 201 when it is new, 200 when it replaced one."""
    answer = catalog.put_item(deps.store, item_id, fields, time.time())
    return Response(status_code=201 if answer.created else 200, content_type="application/json", body=answer.item)


@app.patch("/items/<item_id>", responses=errors.responses(CatalogItem, 400, 404, 413, 415))
def patch_item(deps: Deps, item_id: ItemIdPath, fields: Annotated[ItemFields, Body()]) -> CatalogItem:
    """Change only the given fields, for example ``{"available": false}`` or a new price."""
    return catalog.patch_item(deps.store, item_id, fields, time.time())


@app.post("/items", responses=errors.responses(CollectResult, 400, 413, 415))
def post_items(deps: Deps, batch: Annotated[ItemBatch, Body()]) -> CollectResult:
    result = catalog.add_items(deps.store, batch.items, time.time())
    metrics.add_metric(name="ItemsStored", unit=MetricUnit.Count, value=result.accepted)
    return result


@app.get("/items/<item_id>", responses=errors.responses(CatalogItem, 400, 404))
def get_item(deps: Deps, item_id: ItemIdPath) -> CatalogItem:
    return catalog.get_item(deps.store, item_id)


@app.delete("/items/<item_id>", responses=errors.responses(None, 400))
def delete_item(deps: Deps, item_id: ItemIdPath) -> Response[str]:
    """Remove the item: it is never recommended again (unless put again)."""
    catalog.delete_item(deps.store, item_id)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return errors.unsupported_media_type(event) or app.resolve(event, context)
