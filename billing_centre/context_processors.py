from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.access import roles_of


def navigation(request):
    """What every page's navigation needs: the support phone and the roles the user holds.

    ``nav_roles`` is read lazily (only by pages that render the menu) from the request's cached
    memberships, which the page's own access checks read too. It lives here, in the project,
    because the kernel's template tags (core) may not know the accounts app.
    """
    return {
        "BILLING_SUPPORT_PHONE": settings.BILLING_SUPPORT_PHONE,
        "nav_roles": SimpleLazyObject(lambda: roles_of(getattr(request, "user", None))),
    }
