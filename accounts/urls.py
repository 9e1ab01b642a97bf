from django.urls import path

import core.converters  # noqa: F401  registers the <ref:...> converter

from .views import activity, billables, users

app_name = "manage"

urlpatterns = [
    path("accounts/", billables.AccountListView.as_view(), name="accounts"),
    path("accounts/add/", billables.AccountAddView.as_view(), name="account_add"),
    path("accounts/<ref:number>/xml/", billables.BillableXmlView.as_view(), name="account_xml"),
    path("accounts/<ref:number>/remove/", billables.BillableRemoveView.as_view(), name="account_remove"),
    path("plans/", billables.PlanListView.as_view(), name="plans"),
    path("plans/<ref:number>/xml/", billables.PlanXmlView.as_view(), name="plan_xml"),
    path("plans/<ref:number>/remove/", billables.PlanRemoveView.as_view(), name="plan_remove"),
    path("users/", users.UserListView.as_view(), name="users"),
    path("users/add/", users.UserAddView.as_view(), name="user_add"),
    path("users/invite/", users.UserInviteView.as_view(), name="user_invite"),
    path("users/<int:pk>/edit/", users.UserEditView.as_view(), name="user_edit"),
    path("users/<int:pk>/remove/", users.UserRemoveView.as_view(), name="user_remove"),
    path("users/invitations/<int:pk>/cancel/", users.InvitationCancelView.as_view(), name="invitation_cancel"),
    path("users/invitations/<int:pk>/resend/", users.InvitationResendView.as_view(), name="invitation_resend"),
    path("activity/", activity.ActivityView.as_view(), name="activity"),
]
