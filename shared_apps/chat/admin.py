"""Admin screens of the chat site (read-mostly).

Staff sign in with accounts local to the chat site (``manage_chat.py createsuperuser``):
the chat site never reads the auth service's user table, and platform users are known
here only by id. Conversations and messages are shown, searched and filtered; the only
write is deleting a conversation (e.g. on a user's request).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from shared_apps.accounts.credentials import AdminLoginForm
from shared_apps.chat.models import Conversation, Message

# Staff sign in through the same throttles and hashing queue as the auth service's users
# (AUTHENTICATION_BACKENDS: credentials.PasswordBackend); the form says when one refused.
admin.site.login_form = AdminLoginForm


class MessageInline(admin.TabularInline):
    model = Message
    fk_name = "conversation"
    extra = 0
    can_delete = False
    fields = ("created_at", "role", "status", "short_content", "model", "total_tokens")
    readonly_fields = fields
    ordering = ("created_at",)
    show_change_link = True

    @admin.display(description="content")
    def short_content(self, obj: Message) -> str:
        return obj.content[:120]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "user_id", "message_count", "last_activity_at", "created_at")
    search_fields = ("=id", "=user_id", "title")
    list_filter = ("created_at", "last_activity_at")
    date_hierarchy = "last_activity_at"
    readonly_fields = (
        "id",
        "user_id",
        "title",
        "model",
        "system_prompt",
        "created_at",
        "updated_at",
        "last_activity_at",
    )
    inlines = [MessageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_message_count=Count("messages"))

    @admin.display(description="messages", ordering="_message_count")
    def message_count(self, obj: Conversation) -> int:
        return obj._message_count

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "role", "status", "model", "total_tokens", "created_at")
    list_filter = ("role", "status", "model", "created_at")
    search_fields = ("=id", "=user_id", "=conversation__id", "content")
    list_select_related = ("conversation",)
    readonly_fields = [f.name for f in Message._meta.fields]
    raw_id_fields = ("conversation", "parent")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
