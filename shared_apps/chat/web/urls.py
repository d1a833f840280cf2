from django.urls import path, re_path

from shared_apps.chat.web import views

urlpatterns = [
    path("", views.chat_page, name="chat-page"),
    re_path(r"^assets/(?P<path>(?:vendor/)?[\w.-]+)$", views.chat_page_asset, name="chat-page-asset"),
]
