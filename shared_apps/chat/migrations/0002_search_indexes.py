"""Full-text search indexes (GIN on ``to_tsvector('english', ...)`` of titles and message
contents), built CONCURRENTLY so a large messages table keeps taking writes meanwhile. They
exist on PostgreSQL only: on SQLite the state changes and no index is made (search there is a
plain contains match)."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        AddIndexOnPostgres(
            model_name="conversation",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("title", config="english"), name="chat_conv_title_fts_idx"
            ),
        ),
        AddIndexOnPostgres(
            model_name="message",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("content", config="english"),
                name="chat_msg_content_fts_idx",
            ),
        ),
    ]
