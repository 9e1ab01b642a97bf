"""Observability: JSON logs with the request id, error reports (Sentry), metrics (Prometheus).

docs/operations.md, "Observing", is the operator's side of it.
"""

import os

# Imported with the project package (billing_centre/celery.py), before prometheus_client is: an
# empty PROMETHEUS_MULTIPROC_DIR would make it write its files into the working directory.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
