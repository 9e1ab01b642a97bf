"""Writes for accounts: one function per use case, transactional, audited."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditEvent, Company


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
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        action=action,
        actor=actor_obj,
        actor_label=actor_obj.get_username() if actor_obj else "",
        company=company,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        data=data or {},
        ip_address=ip_address,
    )
