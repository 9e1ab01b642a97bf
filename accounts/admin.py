"""Django admin for billing staff: users, companies, accounts, plans, roles and the audit trail."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from core.admin_utils import ReadOnlyAdminMixin

from .admin_transfer import transfer_administrator_action
from .models import (
    AuditEvent,
    BillingPlan,
    Company,
    CompanyContact,
    EnrolmentAttempt,
    Invitation,
    JobAlert,
    JobRun,
    Membership,
    ShippingAccount,
    User,
)


class UserAdminCreationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "name")


class UserAdminChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("company", "role", "accounts", "plans", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("company", "accounts", "plans")
    show_change_link = True


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("name", "email", "first_name", "last_name")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "name", "password1", "password2"),
            },
        ),
    )
    list_display = (
        "username",
        "name",
        "email",
        "is_active",
        "is_staff",
        "last_login",
        "date_joined",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "memberships__role")
    search_fields = ("username", "name", "email", "memberships__company__name")
    date_hierarchy = "date_joined"
    inlines = (MembershipInline,)


class CompanyContactInline(admin.StackedInline):
    model = CompanyContact
    extra = 0


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "address", "created_at")
    list_filter = ("country",)
    search_fields = ("name", "address")
    date_hierarchy = "created_at"
    inlines = (CompanyContactInline,)
    actions = [transfer_administrator_action]


class BillableAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "name",
        "company",
        "country",
        "currency",
        "invoice_delivery",
        "paperless_since",
        "xml_enrolled",
    )
    list_filter = ("country", "currency", "invoice_delivery", "xml_enrolled")
    list_select_related = ("company",)
    search_fields = ("number", "name", "company__name", "billing_contact_email")
    autocomplete_fields = ("company",)
    readonly_fields = ("created_at",)


@admin.register(BillingPlan)
class BillingPlanAdmin(BillableAdmin):
    pass


@admin.register(ShippingAccount)
class ShippingAccountAdmin(BillableAdmin):
    list_display = (
        *BillableAdmin.list_display[:3],
        "plan",
        "temporary",
        *BillableAdmin.list_display[3:],
    )
    list_select_related = ("company", "plan")
    search_fields = (*BillableAdmin.search_fields, "plan__number")
    autocomplete_fields = ("company", "plan")

    @admin.display(description=_("temporary"), boolean=True)
    def temporary(self, obj):
        return obj.is_temporary


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "company", "role", "created_at")
    list_filter = ("role", "notify_new_invoices")
    list_select_related = ("user", "company")
    search_fields = ("user__username", "user__email", "company__name")
    autocomplete_fields = ("user", "company", "accounts", "plans")
    readonly_fields = ("created_at",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Append-only: nobody adds, changes or deletes audit events, superusers included."""

    list_display = ("created_at", "action", "actor_label", "company", "target_type", "target_label")
    list_filter = ("action", "target_type")
    list_select_related = ("company",)
    # request_id: from a log line (or a customer quoting X-Request-ID) to what that request changed.
    search_fields = ("action", "actor_label", "target_label", "target_id", "company__name", "request_id")
    date_hierarchy = "created_at"


@admin.register(CompanyContact)
class CompanyContactAdmin(admin.ModelAdmin):
    list_display = ("company", "phone", "email")
    list_select_related = ("company",)
    search_fields = ("company__name", "phone", "email")
    autocomplete_fields = ("company",)


@admin.register(EnrolmentAttempt)
class EnrolmentAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The lock-out record: read-only."""

    list_display = ("created_at", "user", "number", "outcome", "ip_address")
    list_filter = ("outcome",)
    list_select_related = ("user",)
    search_fields = ("number", "user__username", "user__email")
    date_hierarchy = "created_at"


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "company", "role", "invited_by", "created_at", "accepted_at")
    list_filter = ("role",)
    list_select_related = ("company", "invited_by")
    search_fields = ("email", "company__name")
    autocomplete_fields = ("company", "accounts", "plans", "invited_by", "accepted_by")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every run of a scheduled job (AutoPay, fees, reminders, import): a record, read-only."""

    list_display = ("job", "trigger", "status", "started_at", "finished_at", "lease_until", "counts", "error_count")
    list_filter = ("job", "status", "trigger")
    search_fields = ("job",)
    date_hierarchy = "started_at"

    @admin.display(description=_("errors"))
    def error_count(self, obj):
        return len(obj.errors or [])


@admin.register(JobAlert)
class JobAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Daily jobs that had not succeeded by their deadline (one alert per job and day), read-only."""

    list_display = ("day", "job", "deadline", "created_at", "last_run")
    list_filter = ("job",)
    date_hierarchy = "day"
    readonly_fields = ("job", "day", "deadline", "message", "last_run", "recipients", "created_at")
