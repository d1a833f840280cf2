"""Store every email address NFKC-normalised (and lower-cased), as sign-up and sign-in now
compare them, so an account created before keeps signing in with any spelling of its address.

An address whose normalised form another account already holds is left as it is (that account
keeps working with the exact address it has) and named on stdout for an operator to resolve.
"""

import unicodedata

from django.db import migrations
from django.db.models.functions import Lower


def _normalize(email):
    return unicodedata.normalize("NFKC", email or "").strip().lower()


def emails_normalize(apps, schema_editor):
    User = apps.get_model("accounts", "User")  # noqa: N806 - the historical model
    for user in User.objects.only("id", "email").iterator():
        normalized = _normalize(user.email)
        if normalized == user.email:
            continue
        taken = User.objects.annotate(lower=Lower("email")).filter(lower=normalized).exclude(id=user.id).exists()
        if taken:
            print(f"accounts.0002: left user {user.id} unchanged: its normalised email belongs to another account")
            continue
        User.objects.filter(id=user.id).update(email=normalized)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(emails_normalize, migrations.RunPython.noop, elidable=True)]
