"""Enrolment (R25, R26) and the administration pages (R17-R18, R27-R30), one module per area:

- ``base``: what every /manage/ page shares (the company, the links back);
- ``enrolment``: /enroll/, the access request, opening a new account;
- ``billables``: My Accounts / My Plans and each row's actions;
- ``users``: users, roles and invitations;
- ``activity``: the audit trail.

``accounts/urls.py`` imports from the modules; the project's urls use the names re-exported here.
"""

from .activity import ActivityView
from .billables import (
    AccountAddView,
    AccountListView,
    BillableActionView,
    BillableRemoveView,
    BillableXmlView,
    PlanListView,
    PlanRemoveView,
    PlanXmlView,
)
from .enrolment import AccessRequestView, AccountOpenView, EnrolView
from .users import (
    InvitationCancelView,
    InvitationResendView,
    MembershipActionView,
    UserAddView,
    UserEditView,
    UserInviteView,
    UserListView,
    UserRemoveView,
)

__all__ = [
    "AccessRequestView",
    "AccountAddView",
    "AccountListView",
    "AccountOpenView",
    "ActivityView",
    "BillableActionView",
    "BillableRemoveView",
    "BillableXmlView",
    "EnrolView",
    "InvitationCancelView",
    "InvitationResendView",
    "MembershipActionView",
    "PlanListView",
    "PlanRemoveView",
    "PlanXmlView",
    "UserAddView",
    "UserEditView",
    "UserInviteView",
    "UserListView",
    "UserRemoveView",
]
