"""Demo data (``manage.py seed_demo``) and bulk benchmark data (``manage.py seed_bench``)."""

DEMO_PASSWORD = "billing-demo-2026"
