"""The audit log: every state change that matters writes an ``AuditEvent`` (DESIGN.md).

``audit_record`` appends one event inside the transaction of the change it records;
``audit_event_build`` returns an unsaved one for paths that ``bulk_create`` many at once.
Every app imports these two from here. (``AuditEvent`` itself stays in ``accounts.models``:
it refers to ``Company`` and ``User``.)
"""

from __future__ import annotations

from typing import Any

from django.db import models

from core.request_context import request_id

from .models import AuditEvent, Company


def audit_event_build(
    *, action: str, actor=None, company_id=None, target=None, data=None, ip_address=None
) -> AuditEvent:
    """An unsaved audit event; paths that record many changes at once ``bulk_create`` them,
    inside the transaction of the change (as ``audit_record`` does for one)."""
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        action=action,
        actor=actor_obj,
        actor_label=actor_obj.get_username() if actor_obj else "",
        company_id=company_id,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        data=data or {},
        ip_address=ip_address,
        # The request or task being served (core.request_context); empty from a shell.
        request_id=request_id() or "",
    )


def audit_record(
    *,
    action: str,
    actor=None,
    company: Company | None = None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append an audit event; call inside the transaction of the change it records."""
    event = audit_event_build(
        action=action,
        actor=actor,
        company_id=company.pk if company is not None else None,
        target=target,
        data=data,
        ip_address=ip_address,
    )
    event.save()
    return event
