"""Dependencies point one way (docs/architecture.md): core ← accounts ← invoices ← payments, disputes.

The rule holds for queries as well as imports. For every app, statically (ast) and with Django's
app registry:

a. no module imports an app the app may not depend on (absolute or relative imports,
   ``import_module("…")``, ``apps.get_model("…")``, ``"app.Model"`` references), and no model has a
   relation to a model of such an app;
b. no ORM path crosses into such an app through a reverse relation: keyword lookups
   (``filter(disputes__status=…)``), lookup strings (``prefetch_related("allocations__payment")``,
   ``Count("autopay_schedules")``) and attribute access (``invoice.allocations``);
c. no string constant copies a choice value that exists only in the ``TextChoices`` of such an app
   (the owner exposes it through a selector or a registry instead);
d. nothing but ``invoices/locks.py`` calls ``select_for_update`` on ``Invoice`` (directly, or by
   locking a join that reaches the invoice rows).

``billing_centre`` (the project: settings, urls, seed) may import everything; no app imports it.
Migrations are history, not code, and are not checked. The meta-tests at the end run every
checker on a small synthetic source, an offending one and a clean one, so each check is proven
able to fail.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import pathlib
import re

import pytest
from django.apps import apps as django_apps
from django.db import models

ROOT = pathlib.Path(__file__).resolve().parent.parent

# app -> the apps it may depend on (itself aside). Everything else of APPS, and the project, is forbidden.
ALLOWED = {
    "core": set(),
    "accounts": {"core"},
    "invoices": {"core", "accounts"},
    "payments": {"core", "accounts", "invoices"},
    "disputes": {"core", "accounts", "invoices"},
}
APPS = tuple(ALLOWED)
PROJECT = "billing_centre"

LOCKS_MODULE = "invoices/locks.py"

# Call names whose single-word string arguments are ORM lookups (``prefetch_related("allocations")``).
ORM_CALLS = frozenset(
    {
        "filter",
        "exclude",
        "get",
        "get_or_create",
        "update_or_create",
        "annotate",
        "alias",
        "aggregate",
        "values",
        "values_list",
        "order_by",
        "distinct",
        "only",
        "defer",
        "select_related",
        "prefetch_related",
        "Prefetch",
        "F",
        "Q",
        "OuterRef",
        "Count",
        "Sum",
        "Min",
        "Max",
        "Avg",
        "Exists",
        "Subquery",
        "Coalesce",
        "FilteredRelation",
        "prefetch_related_objects",
    }
)
MANAGER_ATTRS = frozenset({"objects", "_base_manager", "_default_manager"})


def forbidden_for(app: str) -> frozenset[str]:
    return frozenset(set(APPS) - ALLOWED[app] - {app}) | {PROJECT}


@dataclasses.dataclass(frozen=True)
class Offence:
    path: str
    line: int
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.check}] {self.message}"


# --- sources --------------------------------------------------------------------------------


def app_modules(app: str) -> list[pathlib.Path]:
    """Every module of the app (templatetags and management commands included), migrations aside."""
    return sorted(
        p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts and p.is_file()
    )


def _module_name(relpath: str) -> str:
    parts = relpath.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _unique(offences: list[Offence]) -> list[Offence]:
    return sorted(set(offences), key=lambda o: (o.line, o.message))


def _top(dotted: str) -> str:
    return dotted.split(".")[0]


# --- a. imports -----------------------------------------------------------------------------


def check_imports(source: str, relpath: str, forbidden: frozenset[str]) -> list[Offence]:
    tree = ast.parse(source)
    module = _module_name(relpath)
    is_package = relpath.endswith("__init__.py")
    found = []

    def flag(node, what):
        found.append(Offence(relpath, node.lineno, "import", what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _top(alias.name) in forbidden:
                    flag(node, f"imports {alias.name!r}")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if _top(target) in forbidden:
                flag(node, f"imports from {target!r}")
        elif isinstance(node, ast.Call) and node.args:
            name = _call_name(node)
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if name in {"import_module", "__import__"} and args and _top(args[0]) in forbidden:
                flag(node, f"imports {args[0]!r} by name")
            elif name in {"get_model", "get_app_config"} and args and _top(args[0]) in forbidden:
                flag(node, f"looks up {'.'.join(args[:2])!r} in the app registry")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = re.fullmatch(r"([a-z_]+)\.([A-Z]\w*)", node.value)
            if match and match.group(1) in forbidden:
                flag(node, f"names the model {node.value!r}")
    return _unique(found)


def check_model_relations(app: str) -> list[Offence]:
    """A model of ``app`` has no relation (FK, one-to-one, many-to-many) to a model of a forbidden app."""
    forbidden = forbidden_for(app)
    found = []
    for model in django_apps.get_app_config(app).get_models():
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is not None:
                target = field.related_model._meta
                if target.app_label in forbidden:
                    found.append(
                        Offence(
                            f"{app}/models.py",
                            0,
                            "relation",
                            f"{model.__name__}.{field.name} points to {target.app_label}.{target.object_name}",
                        )
                    )
    return found


# --- b. ORM paths ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CrossNames:
    """Names of reverse relations that lead from what ``app`` may see into a forbidden app."""

    lookups: dict[str, str]  # related query name or accessor -> "payments.AutoPaySchedule → accounts.Company"
    accessors: dict[str, str]  # accessor (attribute) name -> same


@functools.cache
def cross_names(app: str) -> CrossNames:
    forbidden = forbidden_for(app)
    lookups: dict[str, str] = {}
    accessors: dict[str, str] = {}
    for model in django_apps.get_models():
        if model._meta.app_label in forbidden:
            continue  # the app cannot reach this model in the first place
        for rel in model._meta.get_fields():
            if not (rel.auto_created and not rel.concrete and rel.is_relation):
                continue
            source = rel.related_model._meta
            if source.app_label not in forbidden:
                continue
            how = f"{source.app_label}.{source.object_name} → {model._meta.app_label}.{model._meta.object_name}"
            accessor = rel.get_accessor_name()
            accessors[accessor] = how
            lookups[accessor] = how
            lookups[rel.remote_field.related_query_name()] = how
            if isinstance(getattr(rel, "related_query_name", None), str):
                lookups[rel.related_query_name] = how
    return CrossNames(lookups=lookups, accessors=accessors)


def check_orm_paths(source: str, relpath: str, names: CrossNames) -> list[Offence]:
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    found = []

    def parts_hit(text: str) -> str | None:
        return next((part for part in text.split("__") if part in names.lookups), None)

    def flag(node, kind, text, name):
        found.append(Offence(relpath, node.lineno, "orm", f"{kind} {text!r} crosses {name!r} ({names.lookups[name]})"))

    orm_args: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in ORM_CALLS:
            orm_args |= {id(a) for a in node.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and (hit := parts_hit(keyword.arg)):
                    flag(node, "keyword", keyword.arg, hit)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if not re.fullmatch(r"-?[a-z_][a-z0-9_]*", text):
                continue
            if "__" in text or id(node) in orm_args:
                if hit := parts_hit(text.lstrip("-")):
                    flag(node, "lookup", text, hit)
        elif isinstance(node, ast.Attribute) and node.attr in names.accessors:
            found.append(
                Offence(
                    relpath,
                    node.lineno,
                    "orm",
                    f"attribute '.{node.attr}' crosses {node.attr!r} ({names.accessors[node.attr]})",
                )
            )
    return _unique(found)


# --- c. copied constants --------------------------------------------------------------------


def _all_choices_classes():
    stack = [models.Choices]
    while stack:
        cls = stack.pop()
        yield cls
        stack.extend(cls.__subclasses__())


@functools.cache
def choice_values() -> dict[str, frozenset[str]]:
    """app -> the string values of the ``TextChoices`` classes its modules define.

    Field choices built from plain tuples (the currencies of ``core.money``) are not counted:
    they belong to the module that wrote the tuple, and a model field only uses them.
    """
    values: dict[str, set[str]] = {app: set() for app in APPS}
    for cls in _all_choices_classes():
        app = _top(cls.__module__)
        if app in values and cls.__members__:
            values[app] |= {m.value for m in cls if isinstance(m.value, str)}
    return {app: frozenset(v) for app, v in values.items()}


@functools.cache
def foreign_only_values(app: str) -> dict[str, str]:
    """Choice values only apps that ``app`` may not depend on define: value -> owning app(s)."""
    everything = choice_values()
    visible = set().union(*(everything[a] for a in ALLOWED[app] | {app}))
    owners: dict[str, list[str]] = {}
    for other in sorted(forbidden_for(app) & set(APPS)):
        for value in everything[other] - visible:
            owners.setdefault(value, []).append(other)
    return {value: ", ".join(apps) for value, apps in owners.items()}


# Where a string is a value rather than a label: compared, passed as a keyword, bound to a name,
# a dict value, a ``case`` pattern. Dict keys and subscripts are names of things (``raw["rate"]``),
# not choice values, and are left out so the check has no false positives.
_VALUE_CONTEXTS = (ast.Compare, ast.keyword, ast.Assign, ast.AnnAssign, ast.MatchValue, ast.Return)
_WRAPPERS = (ast.Tuple, ast.List, ast.Set, ast.Starred)


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _used_as_value(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    child, parent = node, parents.get(id(node))
    while isinstance(parent, _WRAPPERS) or (
        isinstance(parent, ast.Call) and _call_name(parent) in {"frozenset", "set", "tuple", "list"}
    ):
        child, parent = parent, parents.get(id(parent))
    if isinstance(parent, ast.Dict):
        return any(value is child for value in parent.values)
    return isinstance(parent, _VALUE_CONTEXTS)


def check_copied_constants(source: str, relpath: str, foreign: dict[str, str]) -> list[Offence]:
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    parents = _parents(tree)
    found = {
        (node.lineno, node.value): Offence(
            relpath,
            node.lineno,
            "constant",
            f"{node.value!r} is a choice value of {foreign[node.value]}: ask the owner, do not copy it",
        )
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in foreign
        and id(node) not in docstrings
        and _used_as_value(node, parents)
    }
    return [found[k] for k in sorted(found)]


# --- d. invoice row locks -------------------------------------------------------------------


def _chain(node: ast.AST) -> list[ast.AST]:
    """The nodes of a method chain, outermost first: ``A.objects.filter().select_for_update()``."""
    out = []
    while True:
        out.append(node)
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return out


def _chain_root_model(chain: list[ast.AST], aliases: dict[str, str]) -> str | None:
    """``Invoice`` for ``Invoice.objects…``; a name assigned such a chain resolves through ``aliases``."""
    root = chain[-1]
    if not isinstance(root, ast.Name):
        return None
    if len(chain) >= 2 and isinstance(chain[-2], ast.Attribute) and chain[-2].attr in MANAGER_ATTRS:
        return root.id
    return aliases.get(root.id)


def _models_by_name() -> dict[str, type[models.Model]]:
    return {m.__name__: m for m in django_apps.get_models()}


def _path_reaches(model: type[models.Model] | None, path: str, target: type[models.Model]) -> list[str]:
    """The prefixes of the ``select_related`` path ``path`` (from ``model``) that land on ``target``."""
    hits = []
    parts = path.split("__")
    for i, part in enumerate(parts):
        if model is None:
            return hits
        try:
            field = model._meta.get_field(part)
        except Exception:
            return hits
        model = field.related_model
        if model is target:
            hits.append("__".join(parts[: i + 1]))
    return hits


def check_invoice_locks(source: str, relpath: str) -> list[Offence]:
    if relpath == LOCKS_MODULE:
        return []
    from invoices.models import Invoice

    tree = ast.parse(source)
    by_name = _models_by_name()
    found = []

    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes:
        aliases: dict[str, str] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                root = _chain_root_model(_chain(node.value), aliases)
                if root:
                    aliases[node.targets[0].id] = root
        for node in ast.walk(scope):
            if not (isinstance(node, ast.Call) and _call_name(node) == "select_for_update"):
                continue
            chain = _chain(node)
            root = _chain_root_model(chain, aliases)
            if root == "Invoice":
                found.append(Offence(relpath, node.lineno, "lock", "select_for_update on Invoice: use invoices.locks"))
                continue
            # Another model's query that joins the invoice rows locks them as well unless of= leaves them out.
            model = by_name.get(root or "")
            of = next((k.value for k in node.keywords if k.arg == "of"), None)
            locked_of = (
                {e.value for e in of.elts if isinstance(e, ast.Constant)}
                if isinstance(of, (ast.Tuple, ast.List))
                else None
            )
            for link in chain:
                if isinstance(link, ast.Call) and _call_name(link) == "select_related":
                    for arg in link.args:
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                            for prefix in _path_reaches(model, arg.value, Invoice):
                                if locked_of is None or prefix in locked_of:
                                    found.append(
                                        Offence(
                                            relpath,
                                            node.lineno,
                                            "lock",
                                            f"select_for_update on {root} also locks Invoice through "
                                            f"{prefix!r}: lock invoices with invoices.locks",
                                        )
                                    )
    return _unique(found)


# --- the tests on the real tree -------------------------------------------------------------


def _read(path: pathlib.Path) -> tuple[str, str]:
    return path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix()


def _report(offences: list[Offence]) -> str:
    return "\n" + "\n".join(str(o) for o in sorted(offences, key=lambda o: (o.path, o.line, o.message)))


@pytest.mark.parametrize("app", APPS)
def test_app_imports_no_app_it_may_not_depend_on(app):
    forbidden = forbidden_for(app)
    offences = [o for path in app_modules(app) for o in check_imports(*_read(path), forbidden)]
    offences += check_model_relations(app)
    assert not offences, _report(offences)


@pytest.mark.parametrize("app", APPS)
def test_app_queries_no_reverse_relation_of_an_app_it_may_not_depend_on(app):
    names = cross_names(app)
    offences = [o for path in app_modules(app) for o in check_orm_paths(*_read(path), names)]
    assert not offences, _report(offences)


@pytest.mark.parametrize("app", APPS)
def test_app_copies_no_choice_value_of_an_app_it_may_not_depend_on(app):
    foreign = foreign_only_values(app)
    offences = [o for path in app_modules(app) for o in check_copied_constants(*_read(path), foreign)]
    assert not offences, _report(offences)


def test_only_invoices_locks_locks_invoice_rows():
    paths = [p for app in (*APPS, PROJECT) for p in app_modules(app)]
    offences = [o for path in paths for o in check_invoice_locks(*_read(path))]
    assert not offences, _report(offences)


def test_the_locks_module_exists_and_locks_invoices():
    """The exemption above is for a module that really is the place: it locks Invoice rows."""
    source = (ROOT / LOCKS_MODULE).read_text(encoding="utf-8")
    assert check_invoice_locks(source, "invoices/elsewhere.py"), "invoices/locks.py no longer locks invoices"


# --- meta-tests: every checker fails on an offending source and passes a clean one --------------


def test_import_check_flags_absolute_relative_and_by_name_imports():
    forbidden = forbidden_for("accounts")
    offending = (
        "import payments.models\n"
        "from invoices.selectors import invoice_list\n"
        "from disputes import services\n"
        "from importlib import import_module\n"
        "m = import_module('payments.tasks')\n"
        "Model = apps.get_model('disputes', 'Dispute')\n"
        "fk = models.ForeignKey('invoices.Invoice', on_delete=models.PROTECT)\n"
    )
    found = check_imports(offending, "accounts/templatetags/x.py", forbidden)
    assert [o.line for o in found] == [1, 2, 3, 5, 6, 7], _report(found)
    assert "accounts/templatetags/x.py:2: [import] imports from 'invoices.selectors'" in {str(o) for o in found}

    clean = (
        "from core.money import money\nfrom . import models\nfrom .models import ShippingAccount\n"
        "from ..selectors import x\nimport django\nfk = models.ForeignKey('accounts.Company', on_delete=models.CASCADE)\n"
    )
    assert check_imports(clean, "accounts/management/commands/x.py", forbidden) == []


def test_import_check_resolves_relative_imports():
    # From inside a package, ``from .. import x`` stays inside the app; the resolution is what is checked.
    assert check_imports("from ..models import Invoice\n", "invoices/formats/csv.py", frozenset({"invoices"}))
    assert not check_imports("from ..models import Invoice\n", "invoices/formats/csv.py", frozenset({"payments"}))


def test_core_and_apps_may_not_import_the_project():
    found = check_imports("from billing_centre.celery import app\n", "core/tasks.py", forbidden_for("core"))
    assert len(found) == 1
    assert "billing_centre" in forbidden_for("disputes")
    assert forbidden_for("payments") & {"disputes"} and forbidden_for("disputes") & {"payments"}


def test_model_relation_check_knows_the_registry():
    # The real registry: accounts' models point nowhere forbidden, while payments' models do point
    # to invoices (which would be forbidden to accounts).
    assert check_model_relations("accounts") == []
    assert any(
        f.is_relation and f.concrete and f.related_model and f.related_model._meta.app_label == "invoices"
        for m in django_apps.get_app_config("payments").get_models()
        for f in m._meta.get_fields()
    )


def test_cross_names_come_from_the_registry():
    accounts = cross_names("accounts")
    assert {"autopay_schedules", "disputes", "invoices", "payment_methods"} <= set(accounts.lookups)
    assert "memberships" not in accounts.lookups  # accounts' own relation
    invoices = cross_names("invoices")
    assert {"allocations", "disputes", "autopay_attempts"} <= set(invoices.accessors)
    assert "lines" not in invoices.lookups and "invoices" not in invoices.lookups
    assert "disputes" in cross_names("payments").lookups and "allocations" in cross_names("disputes").lookups
    assert "allocations" not in cross_names("payments").lookups


def test_orm_check_flags_keywords_lookup_strings_and_attributes():
    offending = (
        "qs = Invoice.objects.filter(disputes__status__in=OPEN)\n"
        "qs = qs.prefetch_related('allocations__payment')\n"
        "qs = qs.annotate(n=Count('autopay_attempts'))\n"
        "total = invoice.allocations.all()\n"
        "qs = qs.order_by('-disputes__opened_at')\n"
    )
    found = check_orm_paths(offending, "invoices/x.py", cross_names("invoices"))
    assert [o.line for o in found] == [1, 2, 3, 4, 5], _report(found)
    assert "disputes__status__in" in str(found[0]) and "disputes.Dispute → invoices.Invoice" in str(found[0])

    clean = (
        "qs = Invoice.objects.filter(account__company=company, lines__kind='print_fee')\n"
        "qs = qs.prefetch_related('lines').annotate(n=Count('documents'))\n"
        "context = {'disputes': open_disputes}\n"  # a dict key, not a lookup
        "from disputes import x\n"
    )
    assert check_orm_paths(clean, "invoices/x.py", cross_names("invoices")) == []


def test_orm_check_sees_accounts_querying_autopay():
    source = "Company.objects.filter(autopay_schedules__status='active').exists()\n"
    found = check_orm_paths(source, "accounts/selectors.py", cross_names("accounts"))
    assert len(found) == 1 and "payments.AutoPaySchedule" in str(found[0])


def test_copied_constant_check_flags_a_value_only_a_forbidden_app_defines():
    from payments.models import AutoPaySchedule

    cancelled = AutoPaySchedule.Status.CANCELLED.value
    foreign = foreign_only_values("accounts")
    # A synthetic owner proves the check whatever accounts defines today.
    foreign_synthetic = {**foreign, "autopay-cancelled-marker": "payments"}
    offending = (
        f'"""Docstrings may say {cancelled!r}."""\n'
        "CANCELLED_AUTOPAY_STATUS = 'autopay-cancelled-marker'\n"
        "qs = qs.exclude(status='autopay-cancelled-marker')\n"
        "if schedule.status in ('administrator', 'autopay-cancelled-marker'):\n"
        "    pass\n"
        "flags = {'autopay': 'autopay-cancelled-marker'}\n"
    )
    found = check_copied_constants(offending, "accounts/services.py", foreign_synthetic)
    assert [o.line for o in found] == [2, 3, 4, 6], _report(found)
    assert "choice value of payments" in str(found[0])

    clean = (
        "ROLE = 'administrator'\n"
        "label = f'autopay-cancelled-marker {x}'\n"
        "rate = raw['autopay-cancelled-marker']\n"  # a key names a thing, it is not a status value
        "payload = {'autopay-cancelled-marker': 1}\n"
        "response = HttpResponse('ok' if done else 'autopay-cancelled-marker')\n"
    )
    assert check_copied_constants(clean, "accounts/services.py", foreign_synthetic) == []


def test_choice_values_are_read_per_app():
    values = choice_values()
    from disputes.models import DisputeStatus
    from payments.models import AutoPaySchedule

    assert {s.value for s in AutoPaySchedule.Status} <= values["payments"]
    assert {s.value for s in DisputeStatus} <= values["disputes"]
    assert "KRW" not in foreign_only_values("core")  # core.money's currencies are core's
    # A value the app itself (or an app it may use) defines is no copy.
    for value in values["accounts"]:
        assert value not in foreign_only_values("accounts")
        assert value not in foreign_only_values("payments")


def test_invoice_lock_check_flags_direct_aliased_and_joined_locks():
    offending = (
        "def a():\n"
        "    return Invoice.objects.select_for_update().get(pk=1)\n"
        "def b():\n"
        "    qs = Invoice.objects.filter(account=x)\n"
        "    return list(qs.select_for_update())\n"
        "def c():\n"
        "    return PaymentAllocation.objects.select_related('invoice').select_for_update().get(pk=1)\n"
        "def d():\n"
        "    return Dispute.objects.select_related('invoice').select_for_update(of=('self', 'invoice')).get(pk=1)\n"
    )
    found = check_invoice_locks(offending, "payments/services/x.py")
    assert [o.line for o in found] == [2, 5, 7, 9], _report(found)

    clean = (
        "def a():\n"
        "    return Payment.objects.select_for_update().get(pk=1)\n"
        "def b():\n"
        "    return Dispute.objects.select_related('invoice').select_for_update(of=('self',)).get(pk=1)\n"
        "def c():\n"
        "    return invoice_lock(invoice)\n"
    )
    assert check_invoice_locks(clean, "payments/services/x.py") == []
    source = (ROOT / LOCKS_MODULE).read_text(encoding="utf-8")
    assert check_invoice_locks(source, LOCKS_MODULE) == []
