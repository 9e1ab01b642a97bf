"""Export jobs: when last queued, builds started, and the lease of the build in progress (issue 13).

Existing rows get ``queued_at`` = the migration time and no lease: a pending one is queued again by
the first sweep, a running one (its worker long gone) is taken over by the first claim. Unfinished
jobs asked for more than a day before the migration (stuck by the very fault this fixes) are failed
instead: rebuilding them all at once would flood the workers and mail owners about stale requests.
"""

import datetime

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


STALE_AFTER = datetime.timedelta(days=1)


def fail_stale_jobs(apps, schema_editor):
    ExportJob = apps.get_model("invoices", "ExportJob")
    now = django.utils.timezone.now()
    ExportJob.objects.filter(status__in=["pending", "running"], created_at__lt=now - STALE_AFTER).update(
        status="failed", error="The export could not be built. Please try again.", finished_at=now
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0005_scope_indexes_by_number"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="attempts"),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="lease expires"),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="lease_token",
            field=models.UUIDField(blank=True, editable=False, null=True, verbose_name="lease token"),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="queued_at",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="queued"),
        ),
        migrations.AddIndex(
            model_name="exportjob",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "running"])),
                fields=["queued_at"],
                name="exportjob_unfinished_queued",
            ),
        ),
        migrations.RunPython(fail_stale_jobs, migrations.RunPython.noop),
    ]
