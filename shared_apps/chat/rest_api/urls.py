from django.urls import path

from shared_apps.chat.rest_api import views

urlpatterns = [
    path("chat/conversations", views.ConversationListApi.as_view(), name="conversation-list"),
    path("chat/conversations/<str:conversation_id>", views.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("chat/conversations/<str:conversation_id>/messages", views.MessageListApi.as_view(), name="message-list"),
    path("chat/conversations/<str:conversation_id>/branch", views.BranchApi.as_view(), name="conversation-branch"),
    path("chat/messages/<str:message_id>/regenerate", views.RegenerateApi.as_view(), name="message-regenerate"),
    path("chat/messages/<str:message_id>/edit", views.EditApi.as_view(), name="message-edit"),
    path("chat/conversations/<str:conversation_id>/export", views.ExportApi.as_view(), name="conversation-export"),
    path("chat/message", views.SendMessageApi.as_view(), name="send-message"),
    path("chat/ai", views.ChatWithAIApi.as_view(), name="chat-with-ai"),
    path("chat/history/<str:conversation_id>", views.HistoryApi.as_view(), name="history"),
    path("chat/stream/<str:conversation_id>", views.StreamApi.as_view(), name="stream"),
    path("chat/models", views.ModelListApi.as_view(), name="model-list"),
    path("chat/search", views.SearchApi.as_view(), name="search"),
]
