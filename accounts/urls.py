from django.urls import path

import core.converters  # noqa: F401  registers the <ref:...> converter

from . import views

app_name = "manage"

urlpatterns = [
    path("accounts/", views.AccountListView.as_view(), name="accounts"),
    path("accounts/add/", views.AccountAddView.as_view(), name="account_add"),
    path("accounts/<ref:number>/xml/", views.BillableXmlView.as_view(), name="account_xml"),
    path("accounts/<ref:number>/remove/", views.BillableRemoveView.as_view(), name="account_remove"),
    path("plans/", views.PlanListView.as_view(), name="plans"),
    path("plans/<ref:number>/xml/", views.PlanXmlView.as_view(), name="plan_xml"),
    path("plans/<ref:number>/remove/", views.PlanRemoveView.as_view(), name="plan_remove"),
    path("users/", views.UserListView.as_view(), name="users"),
    path("users/add/", views.UserAddView.as_view(), name="user_add"),
    path("users/invite/", views.UserInviteView.as_view(), name="user_invite"),
    path("users/<int:pk>/edit/", views.UserEditView.as_view(), name="user_edit"),
    path("users/<int:pk>/remove/", views.UserRemoveView.as_view(), name="user_remove"),
    path("users/invitations/<int:pk>/cancel/", views.InvitationCancelView.as_view(), name="invitation_cancel"),
    path("users/invitations/<int:pk>/resend/", views.InvitationResendView.as_view(), name="invitation_resend"),
    path("activity/", views.ActivityView.as_view(), name="activity"),
]
