"""The kernel's one table: the database cache that answers while Redis is down (core.cache)."""

from django.db import models


class CacheEntry(models.Model):
    """A row of Django's ``DatabaseCache`` (the ``database`` cache alias); the cache reads and writes it.

    Declared as a model only so a migration creates the table (the schema of ``createcachetable``):
    every deployment has it without an extra command, and ``migrate`` on a fresh database is enough.
    """

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "bc_cache_fallback"
        verbose_name = "cache entry"
        verbose_name_plural = "cache entries"

    def __str__(self) -> str:
        return self.cache_key


class OutgoingEmail(models.Model):
    """One e-mail in the outbox (core.mail): written in the transaction of the change it tells about.

    The row commits or rolls back with that change, so an e-mail is never sent about a write that
    did not happen and never lost because the broker or the mail server was down: the task sends it
    and stamps ``sent_at``; the sweep queues again whatever is still unsent.
    """

    to = models.JSONField(default=list)
    subject = models.CharField(max_length=998)
    body = models.TextField()
    # [{"filename": ..., "mimetype": ..., "content": <base64>}]: small files only (a receipt PDF).
    attachments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "core_outgoing_email"
        verbose_name = "outgoing e-mail"
        verbose_name_plural = "outgoing e-mails"
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(sent_at__isnull=True), name="core_email_unsent"),
        ]

    def __str__(self) -> str:
        return self.subject
