"""Writes of the predict path: call a deployed model through the serving pool and meter the call; warm a
model after deploy; undeploy. The pool (``prsm.serving``) runs the model in its own processes, never here."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.utils import timezone

from accounts.models import ApiToken
from distillation.models import DeployedModel
from prsm.serving import errors as pool_errors
from prsm.serving.client import ServingClient
from prsm.serving.measure import measure

from . import selectors
from .errors import BadPredictInput, ModelBusy, ModelNotServed, PaymentRequired, PredictForbidden, ServingDown
from .models import Prediction

BILLED_ACCESS = ("buyer", "renter")


def serving_client() -> ServingClient:
    return ServingClient(settings.SERVING_SOCKET_DIR, timeout_s=settings.SERVING_TIMEOUT_S)


def model_key(deployment: DeployedModel) -> str:
    """The pool's name for the model: a new export (redeploy of a retrained job) is a new key."""
    return f"{deployment.model_id}:{selectors.model_version(deployment)}"


def predict_inputs(*, task: str, inputs) -> list:
    """The API's JSON inputs in the form the pool takes for the model's task: texts as str, feature rows as
    lists or objects, images as bytes (base64, plain or as a data: URL, or ``{"b64": ...}``; an uploaded
    file's bytes pass through). Shape errors name the input; content errors come from the pool."""
    if not isinstance(inputs, list) or not inputs:
        raise BadPredictInput('"inputs" must be a non-empty list.', field="inputs")
    if len(inputs) > settings.PREDICT_MAX_INPUTS:
        raise BadPredictInput(f"{len(inputs)} inputs in one call; the most is {settings.PREDICT_MAX_INPUTS}.", field="inputs")
    if task != "image":
        return inputs
    return [_image_bytes(item, index) for index, item in enumerate(inputs)]


def _image_bytes(item, index: int) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, dict) and set(item) == {"b64"}:
        item = item["b64"]
    if not isinstance(item, str):
        raise BadPredictInput(f"inputs[{index}]: an image model takes an image file as base64 text "
                              f'(or {{"b64": ...}}, or a multipart file), not {type(item).__name__}.', field="inputs")
    if item.startswith("data:"):
        item = item.partition(",")[2]
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError):
        raise BadPredictInput(f"inputs[{index}]: not valid base64.", field="inputs") from None


@dataclass
class PredictCall:
    """A call that passed every check, ready for the pool (``predict_prepare``), then metered (``predict_record``)."""

    deployment: DeployedModel
    user: object
    token: ApiToken | None
    source: str
    access: str
    price_per_1k: int
    key: str
    path: str
    version: str
    inputs: list
    task: str = ""
    started: float = field(default_factory=time.perf_counter)


def model_predict(*, user, deployment: DeployedModel, inputs: list, token=None, source: str = Prediction.Source.API) -> dict:
    """Answer ``inputs`` with the deployed model for ``user`` and meter the call (one ``Prediction`` row).
    The API's async endpoint (serving/endpoint.py) runs the same three steps with an asyncio client."""
    call = predict_prepare(user=user, deployment=deployment, inputs=inputs, token=token, source=source)
    try:
        outputs = serving_client().predict(call.key, call.path, call.inputs, version=call.version)
    except pool_errors.ServingError as error:
        raise pool_refusal(error) from None
    return predict_record(call=call, outputs=outputs)


def predict_prepare(*, user, deployment: DeployedModel, inputs: list, token=None, source: str = Prediction.Source.API) -> PredictCall:
    """Every check before the pool runs the model: ``predict_grant``'s, then the inputs' shape and, for
    "try it", the day's free quota."""
    call = predict_grant(user=user, deployment=deployment, token=token, source=source)
    return predict_with_inputs(call, inputs)


def predict_grant(*, user, deployment: DeployedModel, token=None, source: str = Prediction.Source.API) -> PredictCall:
    """The checks that do not depend on the inputs, as a call without inputs (``predict_with_inputs`` adds
    them). Who may call: see ``selectors.predict_access``; "try it" (``source="try"``) also lets a signed-in
    user try an active listing within ``TRY_IT_FREE_PER_DAY`` free inputs a day. A buyer or renter of a
    priced listing pays ``price_per_1k_predictions`` per 1,000 inputs, billed later in batches (billing.py);
    one whose last bill could not be paid is refused (402). The predict route's lean path (fast_path.py)
    keeps a grant for a few seconds."""
    if not deployment.is_live:
        raise ModelNotServed("This model was undeployed by its owner; it answers no predictions.", code="undeployed")
    access = selectors.predict_access(user=user, deployment=deployment, trial=source == Prediction.Source.TRY)
    if access is None:
        raise PredictForbidden("Only the model's owner and the buyers and renters of its listing may call it.")
    path = selectors.served_path(deployment)
    if path is None:
        raise ModelNotServed("This model has no verified ONNX or TFLite export to serve; it can be downloaded but not "
                             "called. Run the job again with the onnx (or, on TensorFlow, tflite) export format.",
                             field="export_format")
    listing = selectors.deployment_listing(deployment)
    price = listing.price_per_1k_predictions if listing is not None and access in BILLED_ACCESS else 0
    if price and _in_arrears(user):
        raise PaymentRequired("Your wallet could not pay your last usage bill; add FTNS to call priced models again.")
    return PredictCall(deployment=deployment, user=user, token=token if isinstance(token, ApiToken) else None,
                       source=source, access=access, price_per_1k=price, key=model_key(deployment), path=str(path),
                       version=selectors.model_version(deployment), inputs=[], task=selectors.served_task(deployment))


def predict_with_inputs(grant: PredictCall, inputs) -> PredictCall:
    """The granted call with these inputs (in the pool's form: ``predict_inputs``), its clock started now."""
    inputs = predict_inputs(task=grant.task, inputs=inputs)
    if grant.access == "trial" and selectors.trials_today(user=grant.user) + len(inputs) > settings.TRY_IT_FREE_PER_DAY:
        raise ModelBusy(f"You have used today's {settings.TRY_IT_FREE_PER_DAY} free tries of models you do not own; "
                        "buy or rent the model to call it without a limit.", code="quota_exhausted",
                        retry_after=_seconds_to_midnight())
    return replace(grant, inputs=inputs, started=time.perf_counter())


def pool_refusal(error: pool_errors.ServingError) -> Exception:
    """The pool's error as the refusal the caller gets."""
    if isinstance(error, pool_errors.InputError):
        return BadPredictInput(str(error), field="inputs")
    if isinstance(error, pool_errors.ServingBusy):
        return ModelBusy(f"The model has too many requests in flight; retry in {error.retry_after_s:g} s.",
                         retry_after=error.retry_after_s)
    if isinstance(error, pool_errors.ServingUnavailable):
        return ServingDown(f"The serving pool is not answering: {error}")
    return ModelNotServed(f"The model could not be served: {error}")


def predict_record(*, call: PredictCall, outputs: list) -> dict:
    """Meter the answered call and return the API's body."""
    prediction_row(call).save()
    return predict_body(call, outputs)


def predict_body(call: PredictCall, outputs: list) -> dict:
    return {"model_id": str(call.deployment.model_id), "version": call.version, "outputs": outputs}


def prediction_row(call: PredictCall) -> Prediction:
    """The answered call's metering row, unsaved (the lean path writes them in batches: fast_path.Meter)."""
    return Prediction(deployment=call.deployment, caller=call.user, token=call.token, source=call.source,
                      access=call.access, inputs=len(call.inputs), price_per_1k=call.price_per_1k,
                      latency_ms=(time.perf_counter() - call.started) * 1000)


def _in_arrears(user) -> bool:
    try:
        from .billing import caller_in_arrears
    except ImportError:  # billing lands with its own module
        return False
    return caller_in_arrears(user)


def _seconds_to_midnight() -> int:
    from core import clock

    now = clock.now()
    return max(1, int(86400 - (now.hour * 3600 + now.minute * 60 + now.second)))


def model_warm(*, model_id) -> dict | None:
    """After deploy: load the model in its serving process (so its first caller does not wait), and measure
    the serving path (``prsm.serving.measure``: one-input latency p50/p95, resident memory of the loaded
    model) when deploy did not (it does only when the request set limits). The figures, or None."""
    deployment = selectors.deployment_for(model_id=model_id)
    if deployment is None or not deployment.is_live or (path := selectors.served_path(deployment)) is None:
        return None
    try:
        serving_client().warm(model_key(deployment), str(path), version=selectors.model_version(deployment))
    except pool_errors.ServingError:
        pass  # a pool that is down loads the model on its first prediction
    if deployment.measured:
        return deployment.measured
    try:
        figures = measure(path)
    except pool_errors.ServingError:
        return None
    DeployedModel.objects.filter(pk=deployment.pk).update(measured=figures)
    return figures


def model_undeploy(*, deployment: DeployedModel) -> DeployedModel:
    """Stop serving the model (its downloads and listing stay); the pool unloads it. Deploying the job
    again serves it again."""
    if deployment.is_live:
        deployment.undeployed_at = timezone.now()
        deployment.save(update_fields=["undeployed_at"])
    try:
        serving_client().unload(model_key(deployment))
    except pool_errors.ServingError:
        pass  # a pool that is down holds nothing; a later load checks is_live first
    return deployment
