"""Path converters shared by every app's URLs.

``ref`` matches invoice, account, plan, payment and dispute numbers in paths. Unlike ``str`` it
refuses NUL characters (PostgreSQL cannot compare text holding them), so such a path answers 404
at the resolver instead of reaching a view that would have to guard against it.
Importing this module registers the converter once.
"""

from django.urls import register_converter


class ReferenceConverter:
    regex = r"[^/\x00]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReferenceConverter, "ref")
