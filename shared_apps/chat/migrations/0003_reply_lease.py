"""Reply leases: ``Message.lease_expires_at``, renewed by the process producing a reply, and a
partial index over streaming rows for the sweep that closes replies whose process died. The
index is built CONCURRENTLY on PostgreSQL (the messages table keeps taking writes meanwhile).
Replies already streaming get a lease longer than any reply may run (CHAT_REPLY_MAX_SECONDS,
300 s by default), so a process still running the previous version finishes them first."""

from datetime import timedelta

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.utils import timezone

BACKFILL_LEASE = timedelta(minutes=10)


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


def lease_streaming_replies(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    Message.objects.filter(status="streaming", lease_expires_at__isnull=True).update(
        lease_expires_at=timezone.now() + BACKFILL_LEASE
    )


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("chat", "0002_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="lease_expires_at",
            field=models.DateTimeField(
                blank=True,
                help_text="A streaming reply: its producing process renews this; once past, any chat process closes it.",
                null=True,
            ),
        ),
        migrations.RunPython(lease_streaming_replies, migrations.RunPython.noop),
        AddIndexConcurrentlyOnPostgres(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status", "streaming")),
                fields=["lease_expires_at"],
                name="chat_msg_streaming_lease_idx",
            ),
        ),
    ]
