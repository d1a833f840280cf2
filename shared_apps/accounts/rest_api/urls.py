from django.urls import path

from shared_apps.accounts.rest_api import mfa_api_keys, views

urlpatterns = [
    path("auth/signup", views.SignUpApi.as_view(), name="signup"),
    path("auth/signin", views.SignInApi.as_view(), name="signin"),
    path("auth/signout", views.SignOutApi.as_view(), name="signout"),
    path("auth/refresh", views.RefreshApi.as_view(), name="refresh"),
    path("auth/revoke", views.RevokeApi.as_view(), name="revoke"),
    path("auth/validate", views.ValidateApi.as_view(), name="validate"),
    path("users", views.UserListApi.as_view(), name="user-list"),
    *mfa_api_keys.urlpatterns,  # accounts: two-factor, API keys
]
