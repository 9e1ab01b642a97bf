"""Writes for accounts, one module per family of use cases (one function per use case,
transactional, audited):

- ``enrolment``: enrolment with an invoice, the access request to another company;
- ``opening``: opening a new account without an invoice;
- ``billables``: My Accounts / My Plans (XML enrolment, removal from the company);
- ``memberships``: the manager's scope, adding, changing and removing members;
- ``invitations``: invitations by e-mail;
- ``transfer``: the staff's transfer of administrator rights;
- ``emails``: rendering and queueing the accounts e-mails (through ``core.mail``).

The audit log is ``accounts.audit``. Code inside accounts imports from the modules; this package
re-exports the public names for the other apps and the tests.
"""

from ..audit import audit_event_build, audit_record
from .billables import billable_company_changed, billable_removal_blockers, billable_remove, billable_xml_set
from .enrolment import (
    ACCESS_REQUEST_MAX_PER_DAY,
    ACCESS_REQUEST_WINDOW,
    ENROLMENT_LOCK_WINDOW,
    ENROLMENT_MAX_FAILURES,
    ENROLMENT_WINDOW_DAYS,
    EnrolmentRefused,
    EnrolmentResult,
    enrolment_access_request,
    enrolment_enrol,
    enrolment_is_locked,
)
from .invitations import (
    invitation_accept_pending,
    invitation_cancel,
    invitation_create,
    invitation_resend,
)
from .memberships import ManagerScope, manager_scope, membership_add, membership_remove, membership_update
from .opening import COUNTRY_CURRENCY, account_open
from .transfer import PREVIOUS_OUTCOMES, administrator_transfer

__all__ = [
    "ACCESS_REQUEST_MAX_PER_DAY",
    "ACCESS_REQUEST_WINDOW",
    "COUNTRY_CURRENCY",
    "ENROLMENT_LOCK_WINDOW",
    "ENROLMENT_MAX_FAILURES",
    "ENROLMENT_WINDOW_DAYS",
    "PREVIOUS_OUTCOMES",
    "EnrolmentRefused",
    "EnrolmentResult",
    "ManagerScope",
    "account_open",
    "administrator_transfer",
    "audit_event_build",
    "audit_record",
    "billable_company_changed",
    "billable_remove",
    "billable_removal_blockers",
    "billable_xml_set",
    "enrolment_access_request",
    "enrolment_enrol",
    "enrolment_is_locked",
    "invitation_accept_pending",
    "invitation_cancel",
    "invitation_create",
    "invitation_resend",
    "manager_scope",
    "membership_add",
    "membership_remove",
    "membership_update",
]
