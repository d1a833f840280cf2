"""Admin screens for users and sessions. Deactivation and revocation go through the
service layer so they end sessions exactly as the APIs do."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.db import transaction

from shared_apps.accounts import services
from shared_apps.accounts.credentials import AdminLoginForm
from shared_apps.accounts.email_address import mixed_script_part
from shared_apps.accounts.models import Session, User, UserManager


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    change_password_form = PasswordChangeForm
    ordering = ("-created_at",)
    list_display = ("email", "name", "is_active", "is_staff", "created_at")
    list_filter = ("is_active", "is_staff", "is_superuser", "created_at")
    search_fields = ("email", "name")
    readonly_fields = ("id", "created_at", "updated_at", "last_login")
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    inlines = [SessionInline]
    actions = ["deactivate_users"]

    def save_model(self, request, obj: User, form, change: bool) -> None:
        was_active = change and User.objects.filter(pk=obj.pk, is_active=True).exists()
        super().save_model(request, obj, form, change)
        if was_active and not obj.is_active:
            services.user_deactivate(user=obj)

    @admin.action(description="Deactivate selected users and end their sessions")
    def deactivate_users(self, request, queryset) -> None:
        for user in queryset:
            services.user_deactivate(user=user)
        self.message_user(request, f"Deactivated {queryset.count()} user(s).", messages.SUCCESS)


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
