"""Authorizer function: the x-api-key credential -> the routes its client's scopes open (wiring only).

API Gateway caches the answer per credential for ``AuthorizerCacheSeconds``; an unknown, revoked
or expired credential gets a policy that denies every route (403). A request without the header is
answered 401 by API Gateway without calling this function.
"""

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from pulse.access import grant, resource_glob
from pulse.wiring import Provider, build_authorizer

logger = Logger()
metrics = Metrics()
dependencies = Provider(build_authorizer)
HEADER = "x-api-key"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict[str, Any]:
    token = event.headers.get(HEADER) or ""  # case-insensitive
    if not token:
        raise Exception("Unauthorized")  # API Gateway's contract for a 401
    answer = grant(dependencies().clients.find(token), time.time())
    response = APIGatewayAuthorizerResponse.from_route_arn(
        event.method_arn,
        principal_id=answer.principal or "anonymous",
        context={"client_id": answer.principal} if answer.principal else None,
        usage_identifier_key=answer.usage_key,
    )
    outcome = "CredentialsRefused" if answer.principal is None else "CredentialsAccepted"
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    if answer.principal is None:
        logger.info("credential refused", extra={"route": f"{event.http_method} {event.resource}"})
        response.deny_all_routes()
    else:
        logger.append_keys(client_id=answer.principal)
        for method, path in answer.routes:
            response.allow_route(method, resource_glob(path))
        for method, path in answer.denied:
            response.deny_route(method, resource_glob(path))
    return response.asdict()
