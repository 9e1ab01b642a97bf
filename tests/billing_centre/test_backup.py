"""make backup / make restore: a real database and media folder are backed up, lost, and restored.

Everything runs as an operator would run it: a scratch PostgreSQL database made for the test (not
the pytest test database), ``manage.py migrate`` and a small seed in a subprocess, then
``scripts/backup.sh``; the database is dropped and created empty, the media folder replaced by an
empty one, ``scripts/restore.sh`` runs, and the invoices, a payment and a stored PDF's bytes are
compared with what was there before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connections

BASE_DIR = Path(__file__).resolve().parents[2]
TOOLS = ("pg_dump", "pg_restore", "psql", "createdb", "dropdb", "tar", "sha256sum")

pytestmark = pytest.mark.needs_postgres

SEED = r"""
import json
from decimal import Decimal
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from invoices.models import InvoiceDocument
from tests.accounts.factories import CompanyFactory, ShippingAccountFactory
from tests.invoices.factories import InvoiceFactory
from tests.payments.factories import PaymentAllocationFactory, PaymentFactory

company = CompanyFactory(name="백업 주식회사")
account = ShippingAccountFactory(company=company)
invoices = [InvoiceFactory(account=account, total=Decimal(10000 * (i + 1))) for i in range(5)]
payment = PaymentFactory(
    company=company, amount=Decimal("20000"), method_label="법인카드 •••• 4242",
    gateway_reference="sim_ch_backup_1", payer_email="payer@example.com", settled_at=timezone.now(),
)
PaymentAllocationFactory(payment=payment, invoice=invoices[1], amount=Decimal("20000"))
pdf = b"%PDF-1.7\n% \xec\xb2\xad\xea\xb5\xac\xec\x84\x9c\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
name = default_storage.save(f"documents/{invoices[0].number}/v1-ko.pdf", ContentFile(pdf))
InvoiceDocument.objects.create(invoice=invoices[0], version=1, language="ko", content_hash="x" * 64, file=name, size=len(pdf))
print(json.dumps({"payment": payment.reference, "document": name}))
"""

READ = r"""
import json
from django.core.files.storage import default_storage
from invoices.models import Invoice, InvoiceDocument
from payments.models import Payment

payment = Payment.objects.get(reference=REFERENCE)
document = InvoiceDocument.objects.get()
with default_storage.open(document.file, "rb") as fh:
    pdf = fh.read()
print(json.dumps({
    "invoices": sorted(Invoice.objects.values_list("number", "total", "amount_paid").order_by("number")),
    "payment": [
        payment.reference, payment.idempotency_key, str(payment.amount), payment.currency, payment.status,
        payment.method_label, payment.gateway_reference, payment.payer_email, payment.settled_at.isoformat(),
        [(a.invoice.number, str(a.amount)) for a in payment.allocations.all()],
    ],
    "document": [document.invoice.number, document.file, document.size],
    "pdf": pdf.hex(),
}, default=str))
"""


@pytest.fixture
def scratch(tmp_path):
    """A PostgreSQL database of its own (created and dropped here) and the environment to reach it."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"PostgreSQL client tools missing: {', '.join(missing)} (apt-get install postgresql-client)")
    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    name = f"bc_backup_{uuid.uuid4().hex[:10]}"
    user, password = db.get("USER") or "postgres", db.get("PASSWORD") or ""
    host, port = db.get("HOST") or "127.0.0.1", str(db.get("PORT") or 5432)
    credentials = quote(user) + (f":{quote(password)}" if password else "")
    libpq = {"PGHOST": host, "PGPORT": port, "PGUSER": user, **({"PGPASSWORD": password} if password else {})}
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "billing_centre.settings",
        "DATABASE_URL": f"postgres://{credentials}@{host}:{port}/{name}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "BC_STORAGE": "local",
        "REDIS_URL": "",
        "EMAIL_URL": "",
        "DJANGO_DEBUG": "1",
        # The scripts run manage.py with this interpreter's virtual environment.
        "BC_VENV": sys.prefix,
    }
    tools_env = {**env, **libpq}
    subprocess.run(["createdb", name], env=tools_env, check=True, capture_output=True)
    yield {"name": name, "env": env, "tools_env": tools_env, "media": tmp_path / "media"}
    subprocess.run(["dropdb", "--if-exists", "--force", name], env=tools_env, capture_output=True)


def _run(args, env, timeout=600):
    result = subprocess.run(args, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _python(code: str, env) -> dict:
    out = _run([sys.executable, "manage.py", "shell", "-c", code], env)
    return json.loads(out.strip().splitlines()[-1])


def test_backup_then_restore_into_a_fresh_database_and_media_folder_brings_everything_back(scratch, tmp_path):
    env = scratch["env"]
    _run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], env)
    seeded = _python(SEED, env)
    read = READ.replace("REFERENCE", repr(seeded["payment"]))
    before = _python(read, env)
    assert len(before["invoices"]) == 5 and before["pdf"].startswith(b"%PDF".hex())

    out = _run(["bash", "scripts/backup.sh", str(tmp_path / "backups")], env)
    folder = Path(out.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert folder.parent == tmp_path / "backups" and folder.name.startswith("billing-centre-")
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS",
        "database.dump",
        "manifest.json",
        "media.tar.gz",
        "storage-manifest.json",
    ]
    assert manifest["database"]["counts"]["invoices.Invoice"] == 5
    assert manifest["database"]["counts"]["payments.Payment"] == 1
    assert manifest["files"]["kind"] == "local" and manifest["files"]["count"] == 1

    # Disaster: the database and the media folder are gone; an empty database and folder replace them.
    _run(["dropdb", "--force", scratch["name"]], scratch["tools_env"])
    _run(["createdb", scratch["name"]], scratch["tools_env"])
    shutil.rmtree(scratch["media"])
    scratch["media"].mkdir()

    _run(["bash", "scripts/restore.sh", str(folder)], env)

    after = _python(read, env)
    assert after["invoices"] == before["invoices"]
    assert after["payment"] == before["payment"]
    assert after["document"] == before["document"]
    assert after["pdf"] == before["pdf"]
    analyzed = _run(
        [
            "psql",
            "-d",
            scratch["name"],
            "-tAc",
            "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL",
        ],
        scratch["tools_env"],
    )
    assert int(analyzed.strip()) > 0

    # Restoring again over the database now in use is refused without --force, and a damaged
    # backup is refused before anything is touched.
    refused = subprocess.run(
        ["bash", "scripts/restore.sh", str(folder)], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "already has" in refused.stderr and "--force" in refused.stderr
    with (folder / "database.dump").open("ab") as fh:
        fh.write(b"corrupted")
    damaged = subprocess.run(
        ["bash", "scripts/restore.sh", str(folder), "--force"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert damaged.returncode != 0
    assert "SHA256SUMS does not match" in damaged.stderr
    assert _python(read, env) == after
