from django.conf import settings


def navigation(request):
    return {"BILLING_SUPPORT_PHONE": settings.BILLING_SUPPORT_PHONE}
