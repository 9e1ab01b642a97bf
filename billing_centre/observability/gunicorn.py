"""gunicorn's access log as JSON records with duration and the client's address (gunicorn.conf.py).

``AccessLogger.access`` writes one record per response to the ``gunicorn.access`` logger, which
``logconfig_dict`` (billing_centre/observability/logs.py) sends through the project's JSON format:
method, path (never the query string: tokens live there), status, bytes, duration_ms,
client_ip, remote_addr (the proxy's address), request_id, user_agent.

The client's address and the request id are the ones Django decided (RequestIdMiddleware leaves them
in the WSGI environ, which is Django's ``request.META``): the trusted-proxy rule of
core.client_ip, one answer for logs, rate limits and the audit trail. For a response Django never
made (gunicorn refused the request line), the same rule is applied here to ``X-Forwarded-For``
(``BC_TRUSTED_PROXY_COUNT`` proxies of ours in front: the address the last of them appended).

No Django import: gunicorn's master process loads this before the application.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from core.request_context import request_id_accept

ENVIRON_REQUEST_ID = "bc.request_id"  # billing_centre/observability/middleware.py
ENVIRON_CLIENT_IP = "bc.client_ip"


def forwarded_client_ip(environ: dict) -> str | None:
    """The client's address by the trusted-proxy rule (BC_TRUSTED_PROXY_COUNT), as allauth applies it."""
    remote = environ.get("REMOTE_ADDR")
    try:
        count = int(os.environ.get("BC_TRUSTED_PROXY_COUNT", "0"))
    except ValueError:
        count = 0
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < count:
        return None
    return hops[-count]


class AccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        try:
            status = int(status)
        except (TypeError, ValueError):
            pass
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO")
        request_id = environ.get(ENVIRON_REQUEST_ID) or request_id_accept(environ.get("HTTP_X_REQUEST_ID"))
        client_ip = environ[ENVIRON_CLIENT_IP] if ENVIRON_CLIENT_IP in environ else forwarded_client_ip(environ)
        try:
            self.access_log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "bytes": getattr(resp, "sent", None),
                    "duration_ms": round(request_time.total_seconds() * 1000, 1),
                    "client_ip": client_ip,
                    "remote_addr": environ.get("REMOTE_ADDR"),
                    "request_id": request_id,
                    "user_agent": environ.get("HTTP_USER_AGENT"),
                },
            )
        except Exception:  # noqa: BLE001 - a log line never fails a response
            self.exception("access log")
