"""Users and sessions of the auth service."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from shared_apps.accounts.email_address import email_normalize


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @staticmethod
    def normalize_email_address(email: str) -> str:
        # Addresses are compared in one form everywhere: NFKC, lower-cased (see email_address).
        return email_normalize(email)

    def get_by_natural_key(self, username: str) -> User:
        return self.get(email=self.normalize_email_address(username))

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email_address(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)  # stored NFKC lower-cased; also unique on Lower(email)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the admin and list users.")
    email_verified = models.BooleanField(
        default=False, help_text="The owner followed a verification (or password-reset) link sent to this address."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # name is optional, so `createsuperuser --noinput` needs only email and password

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]
        indexes = [models.Index(fields=["created_at", "id"], name="accounts_user_created_idx")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = UserManager.normalize_email_address(self.email)


class Session(models.Model):
    """One sign-in. Tokens carry its id (``sid``); only the current refresh token's ``jti``
    is stored, never a token. Ending the session (``revoked_at``) ends every token of it."""

    class EndReason(models.TextChoices):
        SIGNOUT = "signout", "Signed out"
        REVOKED = "revoked", "Revoked"
        REFRESH_REUSE = "refresh_reuse", "Refresh token reused"
        USER_DEACTIVATED = "user_deactivated", "User deactivated"
        ADMIN = "admin", "Revoked by staff"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset by email"
        USER_ENDED = "user_ended", "Ended by the user from another session"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    refresh_jti = models.CharField(max_length=64, help_text="jti of the only refresh token that may be used next.")
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoke_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_session_user_idx")]

    def __str__(self) -> str:
        return f"session {self.id} of {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DeletedSession(models.Model):
    """A session row that was deleted (its user deleted, or the row itself) while its access
    tokens could still be unexpired. The revocation feed lists these with the ended sessions,
    so a verifying service that only keeps a deny-list refuses their tokens too; rows older
    than the access-token lifetime are pruned as new ones are written."""

    id = models.UUIDField(primary_key=True, help_text="The deleted session's id.")
    deleted_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"deleted session {self.id}"


@receiver(pre_delete, sender=Session)
def _session_deleted(sender, instance: Session, **kwargs) -> None:
    # Runs for cascades too (deleting a user deletes its sessions one by one when a receiver exists).
    now = timezone.now()
    horizon = now - settings.JWT_ACCESS_TTL - timedelta(seconds=settings.JWT_LEEWAY_SECONDS)
    if instance.revoked_at is None or instance.revoked_at > horizon:
        DeletedSession.objects.update_or_create(id=instance.id, defaults={"deleted_at": now})
    DeletedSession.objects.filter(deleted_at__lt=horizon).delete()


# --- accounts: two-factor, API keys ---------------------------------------------------------


class TotpDevice(models.Model):
    """A user's authenticator app (TOTP, RFC 6238). The shared secret is stored encrypted
    (``secret_box``), never in clear; the device counts for sign-in once ``confirmed_at`` is set."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="totp_device")
    secret_encrypted = models.TextField(help_text="The TOTP secret, encrypted (Fernet).")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The newest time step a code was accepted for: a code (and any older one) works once.
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"two-factor of {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """One of a user's single-use two-factor recovery codes, stored hashed (password hashers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=256)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"], name="accounts_recovery_user_idx")]

    def __str__(self) -> str:
        return f"recovery code {self.id} of {self.user_id}"


class MfaChallenge(models.Model):
    """A sign-in that passed the password and waits for the second factor. Its ``mfa_token``
    is stored as a SHA-256 digest; it is short-lived, single-use and spent after a few codes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mfa_challenges")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Codes tried with this token.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"two-factor challenge {self.id} of {self.user_id}"


class ApiKey(models.Model):
    """A key a program sends as ``Authorization: Bearer <key>`` to the chat service. Only its
    SHA-256 digest is stored (the key is shown once, at creation) and a short prefix to find it.
    Deleting a key sets ``revoked_at``: the revocation feed lists it, so chat processes refuse it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="The key's first characters, shown to its owner.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the key (hex).")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_apikey_user_idx")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DeletedApiKey(models.Model):
    """An API key row that was deleted (with its user, or by staff); the revocation feed lists
    it like a deleted key, so chat processes that cached it refuse it. Pruned as rows are added."""

    id = models.UUIDField(primary_key=True, help_text="The deleted key's id.")
    deleted_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"deleted API key {self.id}"


API_KEY_FEED_SECONDS = 600  # how long a deleted key stays in the revocation feed (chat caches keys 60 s)


@receiver(pre_delete, sender=ApiKey)
def _api_key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    now = timezone.now()
    horizon = now - timedelta(seconds=API_KEY_FEED_SECONDS)
    if instance.revoked_at is None or instance.revoked_at > horizon:
        DeletedApiKey.objects.update_or_create(id=instance.id, defaults={"deleted_at": now})
    DeletedApiKey.objects.filter(deleted_at__lt=horizon).delete()
