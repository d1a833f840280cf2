"""``User.email_verified``, and the two new ways a session ends (password reset by email, ended
by the user from another session).

Accounts that exist before this migration are marked verified: they were created when no one was
asked to verify, they sign in today, and turning on ``AUTH_REQUIRE_VERIFIED_EMAIL`` must not lock
every one of them out at once. The column is added with the default ``True`` (so those rows get
it), and then its default becomes ``False``: every account created afterwards starts unverified.
"""

from django.db import migrations, models

HELP = "The owner followed a verification (or password-reset) link sent to this address."


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_deleted_sessions"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_verified",
            field=models.BooleanField(default=True, help_text=HELP),
        ),
        migrations.AlterField(
            model_name="user",
            name="email_verified",
            field=models.BooleanField(default=False, help_text=HELP),
        ),
        migrations.AlterField(
            model_name="session",
            name="revoke_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("signout", "Signed out"),
                    ("revoked", "Revoked"),
                    ("refresh_reuse", "Refresh token reused"),
                    ("user_deactivated", "User deactivated"),
                    ("admin", "Revoked by staff"),
                    ("password_changed", "Password changed"),
                    ("password_reset", "Password reset by email"),
                    ("user_ended", "Ended by the user from another session"),
                ],
                max_length=32,
            ),
        ),
    ]
