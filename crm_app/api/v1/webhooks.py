"""`/api/v1/webhooks`: managers register where ticket and message events are POSTed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from crm_app.api.v1.callers import Caller, caller
from crm_app.api.v1.params import RowId
from crm_app.api.v1.responses import errors
from crm_app.api.v1.schemas import DeliveryOut, WebhookCreatedOut, WebhookIn, WebhookOut
from crm_app.services import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("", response_model=list[WebhookOut], responses=errors(), summary="Registered webhooks")
def list_webhooks(who: Annotated[Caller, Depends(caller)]) -> list[WebhookOut]:
    """Managers only. No side effects."""
    return [WebhookOut.of(row) for row in webhooks.list_endpoints(who.actor)]


@router.post(
    "",
    response_model=WebhookCreatedOut,
    status_code=201,
    responses=errors(409),
    summary="Register a webhook",
)
def register_webhook(body: WebhookIn, who: Annotated[Caller, Depends(caller)]) -> WebhookCreatedOut:
    """Managers only. The answer holds the signing secret, shown this once. Side effect:
    audited; from now on the chosen events are delivered (signed, retried)."""
    created = webhooks.register_endpoint(
        who.actor, str(body.url), [event.value for event in body.events]
    )
    return WebhookCreatedOut(**WebhookOut.of(created.row).model_dump(), secret=created.secret)


@router.delete("/{webhook_id}", status_code=204, responses=errors(404), summary="Remove a webhook")
def remove_webhook(webhook_id: RowId, who: Annotated[Caller, Depends(caller)]) -> Response:
    """Managers only. Side effect: audited; pending deliveries to it are dropped."""
    webhooks.remove_endpoint(who.actor, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=errors(404),
    summary="Latest deliveries",
)
def deliveries(webhook_id: RowId, who: Annotated[Caller, Depends(caller)]) -> list[DeliveryOut]:
    """Managers only: the latest 50 deliveries with their outcome. No side effects."""
    return [DeliveryOut.of(row) for row in webhooks.list_deliveries(who.actor, webhook_id)]
