"""Branches and title sources.

Messages form a tree: ``Message.parent`` (a foreign key, so a user message can have several
replies and a message several edits beside it) replaces the one-to-one ``reply_to``. Each
existing message's parent is the message before it in the conversation's order (created_at,
id), which is the linear history the conversation had. ``Conversation.active_leaf`` stores
the branch a client chose (null: the newest leaf). ``Conversation.title_source`` says where
the title came from: existing titled conversations are ``user``, untitled ones ``none``.

SQLite rebuilds a table to add a field with a default, a constraint or to drop a foreign key,
and would rebuild the PostgreSQL-only full-text indexes with it (which it cannot): they leave
the migration state for its length (state only: on PostgreSQL they stay in place, untouched).

Reversible: going back, each assistant message's ``reply_to`` is its parent when that is a
user message (for a user message with several replies, the oldest one only: the old field is
one-to-one); the other branches' messages stay, in created_at order.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

BATCH = 1000


def _constraints_now(schema_editor) -> None:
    # PostgreSQL: check the deferred foreign keys now, so the ALTER TABLEs after the data
    # step do not meet "pending trigger events" in the same transaction.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def parents_from_order(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    Conversation = apps.get_model("chat", "Conversation")
    db = schema_editor.connection.alias
    pending = []
    previous: dict = {}  # conversation id -> the message before
    rows = Message.objects.using(db).order_by("conversation_id", "created_at", "id").values_list("id", "conversation_id")
    for message_id, conversation_id in rows.iterator(chunk_size=BATCH):
        parent_id = previous.get(conversation_id)
        previous = {conversation_id: message_id}  # ordered by conversation: one entry is enough
        if parent_id is not None:
            pending.append(Message(id=message_id, parent_id=parent_id))
        if len(pending) >= BATCH:
            Message.objects.using(db).bulk_update(pending, ["parent"])
            pending = []
    if pending:
        Message.objects.using(db).bulk_update(pending, ["parent"])
    Conversation.objects.using(db).exclude(title="").update(title_source="user")
    _constraints_now(schema_editor)


def reply_to_from_parents(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    db = schema_editor.connection.alias
    answered: set = set()
    pending = []
    replies = (
        Message.objects.using(db)
        .filter(role="assistant", parent__role="user")
        .order_by("created_at", "id")
        .values_list("id", "parent_id")
    )
    for message_id, parent_id in replies.iterator(chunk_size=BATCH):
        if parent_id in answered:
            continue  # reply_to is one-to-one: the oldest reply keeps it
        answered.add(parent_id)
        pending.append(Message(id=message_id, reply_to_id=parent_id))
        if len(pending) >= BATCH:
            Message.objects.using(db).bulk_update(pending, ["reply_to"])
            pending = []
    if pending:
        Message.objects.using(db).bulk_update(pending, ["reply_to"])
    _constraints_now(schema_editor)


def _fts_indexes() -> list[tuple[str, models.Index]]:
    search = django.contrib.postgres.search.SearchVector
    gin = django.contrib.postgres.indexes.GinIndex
    return [
        ("conversation", gin(search("title", config="english"), name="chat_conv_title_fts_idx")),
        ("message", gin(search("content", config="english"), name="chat_msg_content_fts_idx")),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0003_reply_lease"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name=model, name=index.name) for model, index in _fts_indexes()
            ]
        ),
        migrations.AddField(
            model_name="message",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                help_text="The message this one follows (null for the first); siblings share it.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="chat.message",
            ),
        ),
        migrations.AddField(
            model_name="conversation",
            name="active_leaf",
            field=models.ForeignKey(
                blank=True,
                help_text="The last message of the branch shown; null: the newest leaf.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="chat.message",
            ),
        ),
        migrations.AddField(
            model_name="conversation",
            name="title_source",
            field=models.CharField(
                choices=[("user", "User"), ("auto", "Auto"), ("none", "None")], default="none", max_length=8
            ),
        ),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.CheckConstraint(
                condition=models.Q(("title_source__in", ["user", "auto", "none"])),
                name="chat_conv_title_source_valid",
            ),
        ),
        migrations.RunPython(parents_from_order, reply_to_from_parents),
        migrations.RemoveField(
            model_name="message",
            name="reply_to",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name=model, index=index) for model, index in _fts_indexes()]
        ),
    ]
