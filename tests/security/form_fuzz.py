"""Forms as the pages render them, and hypothesis strategies for what may be typed into them.

``post_forms(html, page_url)`` reads every ``<form method="post">`` of a page with the standard
library's HTML parser: its action (resolved against the page, as a browser does) and its fields —
inputs with their type and value, selects with their options, text areas, named submit buttons.
``field_values(form)`` is a strategy for a whole submission: each field gets what the page offers
(its value, one of its options; three times in four for buttons, hidden fields and choices) or
something nasty (control characters, huge numbers, long Unicode,
markup), or is left out, so an example can pass the first checks and fail a deeper one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import strategies as st

nasty = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "",
            "\x00",
            "INV\x00001",
            "9" * 400,
            "-1",
            "0",
            "1e999",
            "NaN",
            "Infinity",
            "0x10",
            "１２３",  # full-width digits
            "٣",
            "²",
            "2026-02-30",
            "9999-12-31",
            "0000-00-00",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%00",
            "\ud7ff",
            "청구서 " * 50,
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)

_BUTTON_TYPES = {"submit", "image"}
_SKIPPED_TYPES = {"reset", "button"}


@dataclass
class Field:
    name: str
    kind: str  # an input type, "select", "textarea" or "submit"
    values: list[str] = field(default_factory=list)  # the value(s) the page offers
    multiple: bool = False  # checkboxes sharing a name, <select multiple>


@dataclass
class Form:
    action: str  # path and query string
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return urlsplit(self.action).path

    def signature(self) -> tuple:
        return (self.path, tuple(sorted(self.fields)))


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: Field | None = None

    def _add(self, name: str, kind: str, value: str | None = None, *, multiple=False) -> Field:
        entry = self.form.fields.get(name)
        if entry is None:
            entry = self.form.fields[name] = Field(name, kind, multiple=multiple)
        elif kind == "checkbox" == entry.kind:
            entry.multiple = True  # several checkboxes of one name: a list
        if value is not None and value not in entry.values:
            entry.values.append(value)
        return entry

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = urljoin(self.page_url, a.get("action") or self.page_url)
                parts = urlsplit(action)
                self.form = Form(parts.path + (f"?{parts.query}" if parts.query else ""))
            return
        if tag == "option" and self.form is not None and self.select is not None:
            self.select.values.append(a.get("value", ""))
            return
        if self.form is None or not a.get("name"):
            if tag == "select":
                self.select = None
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in _SKIPPED_TYPES:
                return
            if kind in _BUTTON_TYPES:
                self._add(name, "submit", a.get("value", ""))
            elif kind in ("checkbox", "radio"):
                self._add(name, kind, a.get("value", "on"))
            else:
                self._add(name, kind, a.get("value", ""))
        elif tag == "button":
            if a.get("type", "submit").lower() == "submit":
                self._add(name, "submit", a.get("value", ""))
        elif tag == "select":
            self.select = self._add(name, "select", multiple="multiple" in a)
        elif tag == "textarea":
            self._add(name, "textarea", "")

    def handle_endtag(self, tag):
        if tag == "form" and self.form is not None:
            self.forms.append(self.form)
            self.form = None
        elif tag == "select":
            self.select = None


def post_forms(html: str, page_url: str) -> list[Form]:
    parser = _FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser.forms


def _upload(name: str, content: bytes):
    return SimpleUploadedFile(name or "x", content, content_type="application/octet-stream")


_CHOSEN = {"submit", "hidden", "select", "radio", "checkbox"}  # the page decides the value


def _one(entry: Field):
    if entry.kind == "file":
        return st.builds(_upload, nasty.map(lambda s: s[:200]), st.binary(max_size=2048))
    if not entry.values:
        return nasty
    offered = st.sampled_from(entry.values)
    if entry.kind in _CHOSEN:  # mostly what the page offers, so an example gets past the first checks
        return st.integers(0, 3).flatmap(lambda n: offered if n else nasty)
    return st.one_of(offered, nasty)


def field_values(form: Form):
    """A strategy for one submission of ``form``: a dict of field name to value or list of values."""

    def value(entry: Field):
        if entry.multiple:
            pool = entry.values or [""]
            return st.lists(st.one_of(st.sampled_from(pool), nasty), max_size=4)
        return _one(entry)

    missing = object()

    def maybe(entry: Field):  # one field in ten is left out
        return st.integers(0, 9).flatmap(lambda n, entry=entry: st.just(missing) if n == 0 else value(entry))

    parts = {name: maybe(entry) for name, entry in form.fields.items()}
    return st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not missing})
