"""Admin screens for users and sessions. Deactivation, revocation, password resets and
verification go through the service layer so they behave exactly as the APIs do."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Now

from shared_apps.accounts import api_keys, mfa, services
from shared_apps.accounts.credentials import AdminLoginForm
from shared_apps.accounts.email_address import mixed_script_part
from shared_apps.accounts.models import ApiKey, Session, User, UserManager


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")

    def clean_email(self) -> str:
        # The same rule as sign-up: NFKC, lower case, no look-alike letters from another script.
        email = UserManager.normalize_email_address(self.cleaned_data["email"])
        part = mixed_script_part(email)
        if part is not None:
            raise forms.ValidationError(f"The {part} mixes scripts (e.g. Latin with Cyrillic or Greek look-alikes).")
        return email


class PasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" form: setting a password (or disabling it) ends every
    session of the user, in the same transaction."""

    def save(self, commit: bool = True) -> User:
        if not commit:
            return super().save(commit=False)
        with transaction.atomic():
            user = super().save(commit=True)
            services.user_password_changed(user=user)
        return user


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


# The login form says when a throttle refused the sign-in (AUTHENTICATION_BACKENDS: backends.SignInBackend).
admin.site.login_form = AdminLoginForm


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    can_delete = False
    fields = ("id", "created_at", "last_refreshed_at", "revoked_at", "revoke_reason", "ip_address", "user_agent")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ApiKeyInline(admin.TabularInline):
    """The user's API keys: name and prefix, never the key or its hash."""

    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    change_password_form = PasswordChangeForm
    ordering = ("-created_at",)
    list_display = ("email", "name", "email_verified", "is_active", "is_staff", "live_sessions", "created_at")
    list_filter = ("email_verified", "is_active", "is_staff", "is_superuser", "created_at")
    search_fields = ("email", "name")
    readonly_fields = ("id", "created_at", "updated_at", "last_login", "two_factor")
    fieldsets = (
        (None, {"fields": ("id", "email", "email_verified", "password", "two_factor")}),
        ("Profile", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    inlines = [SessionInline, ApiKeyInline]
    actions = [
        "deactivate_users",
        "end_sessions",
        "send_password_reset",
        "send_verification",
        "mark_email_verified",
        "mark_email_unverified",
        "two_factor_reset",
    ]

    def get_queryset(self, request):
        live = Count("sessions", filter=Q(sessions__revoked_at__isnull=True, sessions__refresh_expires_at__gt=Now()))
        return super().get_queryset(request).annotate(live_session_count=live)

    @admin.display(description="Live sessions", ordering="live_session_count")
    def live_sessions(self, obj: User) -> int:
        return obj.live_session_count

    @admin.display(description="Two-factor sign-in")
    def two_factor(self, obj: User) -> str:
        if obj.pk is None:
            return "off"
        status = mfa.totp_status(user=obj)
        if status.enabled:
            return (
                f"on since {status.confirmed_at:%Y-%m-%d %H:%M} UTC; {status.recovery_codes_left} recovery codes left"
            )
        return "being set up (not confirmed)" if status.pending else "off"

    @admin.action(description="Turn off two-factor sign-in of selected users")
    def two_factor_reset(self, request, queryset) -> None:
        count = sum(mfa.totp_reset(user=user) for user in queryset)
        self.message_user(request, f"Turned off two-factor sign-in of {count} user(s).", messages.SUCCESS)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        was_active = change and User.objects.filter(pk=obj.pk, is_active=True).exists()
        changed = form.changed_data if form is not None else []
        if change and "email" in changed and "email_verified" not in changed:
            obj.email_verified = False  # a new address is not verified until its owner follows a link
        super().save_model(request, obj, form, change)
        if was_active and not obj.is_active:
            services.user_deactivate(user=obj)

    @admin.action(description="Deactivate selected users and end their sessions")
    def deactivate_users(self, request, queryset) -> None:
        for user in queryset:
            services.user_deactivate(user=user)
        self.message_user(request, f"Deactivated {queryset.count()} user(s).", messages.SUCCESS)

    @admin.action(description="End every session of the selected users")
    def end_sessions(self, request, queryset) -> None:
        ended = sum(services.user_sessions_end(user=user, reason=Session.EndReason.ADMIN) for user in queryset)
        self.message_user(request, f"Ended {ended} session(s).", messages.SUCCESS)

    @admin.action(description="Email the selected users a password-reset link")
    def send_password_reset(self, request, queryset) -> None:
        sent = sum(services.user_password_reset_send(user=user) for user in queryset)
        self.message_user(request, f"Sent {sent} password-reset email(s).", messages.SUCCESS)

    @admin.action(description="Email the selected users a new verification link")
    def send_verification(self, request, queryset) -> None:
        sent = sum(services.user_verification_send(user=user) for user in queryset)
        self.message_user(request, f"Sent {sent} verification email(s).", messages.SUCCESS)

    @admin.action(description="Mark the selected users' email addresses verified")
    def mark_email_verified(self, request, queryset) -> None:
        for user in queryset:
            services.user_email_mark(user=user, verified=True)
        self.message_user(request, f"Marked {queryset.count()} address(es) verified.", messages.SUCCESS)

    @admin.action(description="Mark the selected users' email addresses unverified")
    def mark_email_unverified(self, request, queryset) -> None:
        for user in queryset:
            services.user_email_mark(user=user, verified=False)
        self.message_user(request, f"Marked {queryset.count()} address(es) unverified.", messages.SUCCESS)


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "last_refreshed_at", "revoked_at", "revoke_reason", "ip_address")
    list_filter = ("revoke_reason", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("user__email", "id")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Session._meta.fields]
    actions = ["revoke_sessions"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke selected sessions")
    def revoke_sessions(self, request, queryset) -> None:
        ended = sum(services.session_end(session_id=s.id, reason=Session.EndReason.ADMIN) for s in queryset)
        self.message_user(request, f"Revoked {ended} session(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: who, name, prefix and use; never the key or its hash. Deleting a key (the
    action, or the delete view) refuses it at the chat service within a second."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("user__email", "prefix", "name")
    list_select_related = ("user",)
    fields = ("id", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke_api_keys"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Delete (revoke) selected API keys")
    def revoke_api_keys(self, request, queryset) -> None:
        revoked = sum(api_keys.api_key_revoke(api_key=key) for key in queryset)
        self.message_user(request, f"Deleted {revoked} API key(s).", messages.SUCCESS)
