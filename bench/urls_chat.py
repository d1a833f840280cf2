"""Bench-only URLs: the chat service's own, plus two baselines for ``GET /v1/chat/conversations``.

* ``/bench/bare/conversations?user=<uuid>``: a plain Django ``JsonResponse`` view doing the same
  indexed query (owner, newest activity first, first page, and the count), no DRF, no auth.
* ``/bench/noauth/conversations?user=<uuid>``: the real DRF view with authentication replaced by
  a trusted query parameter, so the cost of authentication alone can be measured.
"""

from __future__ import annotations

import uuid

from django.http import JsonResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny

from shared_apps.authn.verify import Principal
from shared_apps.chat.models import Conversation
from shared_apps.chat.rest_api.views import ConversationListApi


def bare_conversations(request):
    user_id = uuid.UUID(request.GET["user"])
    queryset = Conversation.objects.filter(user_id=user_id).order_by("-last_activity_at", "-id")
    rows = list(queryset.values("id", "title", "created_at", "updated_at")[:20])
    return JsonResponse(
        {
            "conversations": [
                {
                    "id": str(r["id"]),
                    "title": r["title"],
                    "created_at": r["created_at"].isoformat(),
                    "updated_at": r["updated_at"].isoformat(),
                }
                for r in rows
            ],
            "total": queryset.count(),
        }
    )


class _TrustedUser:
    def authenticate(self, request):
        from datetime import UTC, datetime

        user_id = uuid.UUID(request.query_params["user"])
        return Principal(user_id, uuid.uuid4(), False, datetime.max.replace(tzinfo=UTC), "bench"), None

    def authenticate_header(self, request):
        return "Bearer"


class NoAuthConversationListApi(ConversationListApi):
    authentication_classes = [_TrustedUser]
    permission_classes = [AllowAny]


urlpatterns = [
    path("bench/bare/conversations", bare_conversations),
    path("bench/noauth/conversations", NoAuthConversationListApi.as_view()),
    path("", include("chat_site.urls")),
]
