"""The operators' routes beside the product's: the overview and model versions (admin scope).

Installed into the API function's resolver like Swagger (``install_operations``); wiring only, the
answers come from ``pulse.services.overview`` and ``pulse.services.model_versions``.
"""

import time
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from pulse.http import errors
from pulse.http.operations_models import ModelList, Overview, Pointer, PromoteModel
from pulse.services import model_versions, overview
from pulse.services.model_holder import loaded_model
from pulse.wiring import ApiDependencies

VERSION = r"^[A-Za-z0-9_.-]{1,128}$"


def install_operations(app: APIGatewayRestResolver, dependencies: Callable[[], ApiDependencies]) -> None:
    Deps = Annotated[ApiDependencies, Depends(dependencies)]  # a type, named as one

    def caller() -> str:
        context = app.current_event.raw_event.get("requestContext") or {}
        principal = (context.get("authorizer") or {}).get("principalId")
        return f"api ({principal})" if principal else "api"

    def applied(pointer: dict[str, Any], deps: ApiDependencies) -> Pointer:
        return Pointer.model_validate(pointer | {"applies_within_seconds": deps.settings.model_refresh_seconds})

    @app.get("/overview", responses=errors.responses(Overview))
    def get_overview(deps: Deps) -> Overview:
        """The updater's work minute by minute, users, dead letters, the model serving, alarms firing."""
        model = loaded_model(deps.holder)
        answer = overview.overview(
            deps.activity, deps.health, deps.experiment_store, model.version if model else None, time.time()
        )
        return Overview.model_validate(answer)

    @app.get("/models", responses=errors.responses(ModelList, 400))
    def list_models(
        deps: Deps, limit: Annotated[int, Query(ge=1, le=200, description="The newest versions shown")] = 30
    ) -> ModelList:
        """Published versions with their offline figures and the gate's decision; which one serves."""
        return ModelList.model_validate(model_versions.describe(deps.models, limit))

    @app.post("/models/<version>/promote", responses=errors.responses(Pointer, 400, 404, 409, 415))
    def promote_model(
        deps: Deps,
        version: Annotated[str, Path(pattern=VERSION, description="A published model version")],
        request: Annotated[PromoteModel, Body()],
    ) -> Pointer:
        """Serve this version (verified, then through the training gate unless forced)."""
        pointer = model_versions.promote(deps.models, version, request.force, promoted_by=caller())
        return applied(pointer, deps)

    @app.post("/models/rollback", responses=errors.responses(Pointer, 409))
    def rollback_model(deps: Deps) -> Pointer:
        """Serve the version served before the current one."""
        return applied(model_versions.rollback(deps.models, rolled_back_by=caller()), deps)
