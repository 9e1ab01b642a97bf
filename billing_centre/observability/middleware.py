"""The request id, the log context and the request line (settings.MIDDLEWARE).

``RequestIdMiddleware`` comes right after the health probes' middleware (probes are neither logged
nor timed) and before ``SecurityMiddleware``, so an HTTPS redirect has an id and a line too. It

- takes the proxy's ``X-Request-ID`` when well formed, else makes one (core.request_context), and
  returns it on the response;
- serves the request inside that context: every log record, every task queued and every audit
  event written meanwhile carries the id;
- writes one request line (logger ``billing_centre.request``): method, path without the query
  string (tokens live there), status, duration_ms, view; and times the request by view
  (core.metrics);
- leaves the id and the client's address in the WSGI environ, where gunicorn's access log
  (billing_centre/observability/gunicorn.py) reads them.

Who is acting is resolved when a record is written, from what the request has loaded already:
the user once authentication loaded it, the company from the memberships the access checks
cached (accounts.access). A log line never loads either, so logging adds no query to a page.
"""

from __future__ import annotations

import logging
import time

from django.utils.functional import empty

from core.client_ip import client_ip
from core.metrics import HTTP_REQUEST_SECONDS, HTTP_RESPONSES
from core.request_context import REQUEST_ID_HEADER, request_context, request_id_accept

logger = logging.getLogger("billing_centre.request")

# WSGI environ keys (gunicorn's access log reads them: the environ is Django's request.META).
ENVIRON_REQUEST_ID = "bc.request_id"
ENVIRON_CLIENT_IP = "bc.client_ip"


def _who(request) -> dict:
    """user_id and company_id, from what the request has loaded; never a query."""
    user = request.__dict__.get("user")
    if user is None:
        return {}
    if getattr(user, "_wrapped", None) is empty:  # a lazy user nobody has asked for yet
        return {}
    if not getattr(user, "is_authenticated", False):
        return {}
    fields = {"user_id": user.pk}
    memberships = getattr(user, "_bc_memberships", None)  # accounts.access caches them per request
    if memberships:
        companies = sorted(memberships)
        if len(companies) == 1:
            fields["company_id"] = companies[0]
        else:
            fields["company_ids"] = companies
    return fields


def view_name(request) -> str:
    """The URL name of the view that answered ("unmatched" when no pattern took the path)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match._func_path


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request_id_accept(request.headers.get(REQUEST_ID_HEADER))
        ip = client_ip(request)
        request.request_id = rid
        request.META[ENVIRON_REQUEST_ID] = rid
        request.META[ENVIRON_CLIENT_IP] = ip
        started = time.perf_counter()
        with request_context(rid, resolver=lambda: _who(request), client_ip=ip):
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = rid
            view = view_name(request)
            HTTP_REQUEST_SECONDS.labels(view=view, method=request.method).observe(duration)
            HTTP_RESPONSES.labels(view=view, method=request.method, status=f"{response.status_code // 100}xx").inc()
            # A 5xx is an error of ours: logged at ERROR here, inside the request's context (request
            # id, user), and marked so Django's handler does not log it again outside of it.
            level = logging.ERROR if response.status_code >= 500 else logging.INFO
            if response.status_code >= 500:
                response._has_been_logged = True
            logger.log(
                level,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(duration * 1000, 1),
                    "view": view,
                },
            )
        return response
