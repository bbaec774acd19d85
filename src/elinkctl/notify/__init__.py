"""Notifications: telling people about escalations and SLA deadlines.

The shell around the pure domain that ``elinkctl check`` uses::

    from elinkctl.notify import Message, Outbox, make_sender, queue_notifications

    message = Message(ticket=t.id, title=t.title, priority="P1", kind="escalation",
                      level=Message.level_for("30m", "management"), elapsed="35m",
                      status=t.status, assignee=t.assignee)
    outbox = Outbox(repo / ".git" / "elinkctl" / "outbox")
    plan = queue_notifications(outbox, escalation_cfg, ["management"], message,
                               event_key=f"{t.id}/escalation/30m/management", now=now)
    results = outbox.flush(now, make_sender(escalation_cfg, os.environ))
    notifications = [r.to_dict() for r in results]   # → check --json

Queue first, then flush: the outbox makes delivery durable (at least once),
never repeats a key, retries with back-off and respects robots' rate limits.
``validate_channels`` is for ``config check``.
"""

from typing import TYPE_CHECKING, Any

# Lazy (PEP 562): a desk command that only queues a notice imports
# notify.outbox and notify.message, not the senders (smtplib, ssl, urllib:
# about a tenth of a second), which only a flush needs.
_WHERE = {
    "ChannelSender": "channels",
    "dingtalk_sign": "channels",
    "feishu_sign": "channels",
    "make_sender": "channels",
    "DeliveryError": "config",
    "validate_channels": "config",
    "Kind": "message",
    "Message": "message",
    "mask_phones": "message",
    "DeliveryResult": "outbox",
    "Outbox": "outbox",
    "RateLimiter": "outbox",
    "backoff": "outbox",
    "delivery_key": "outbox",
    "Delivery": "plan",
    "people_for_roles": "plan",
    "plan_deliveries": "plan",
    "queue_notifications": "plan",
}

if TYPE_CHECKING:
    from elinkctl.notify.channels import ChannelSender, dingtalk_sign, feishu_sign, make_sender
    from elinkctl.notify.config import DeliveryError, validate_channels
    from elinkctl.notify.message import Kind, Message, mask_phones
    from elinkctl.notify.outbox import (
        DeliveryResult,
        Outbox,
        RateLimiter,
        backoff,
        delivery_key,
    )
    from elinkctl.notify.plan import (
        Delivery,
        people_for_roles,
        plan_deliveries,
        queue_notifications,
    )


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'elinkctl.notify' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"elinkctl.notify.{module}"), name)


__all__ = [
    "ChannelSender",
    "Delivery",
    "DeliveryError",
    "DeliveryResult",
    "Kind",
    "Message",
    "Outbox",
    "RateLimiter",
    "backoff",
    "delivery_key",
    "dingtalk_sign",
    "feishu_sign",
    "make_sender",
    "mask_phones",
    "people_for_roles",
    "plan_deliveries",
    "queue_notifications",
    "validate_channels",
]
