from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("shared_apps.core.health")),
    path("", include("django_prometheus.urls")),  # /metrics (Prometheus)
    path("v1/", include("shared_apps.chat.rest_api.urls")),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("app/", include("shared_apps.chat.web.urls")),  # the web chat page
    path("admin/", admin.site.urls),
]

handler404 = "shared_apps.core.rest_errors.handler404"
handler500 = "shared_apps.core.rest_errors.handler500"
