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
    # accounts: password, email, sessions
    path("auth/password/change", views.PasswordChangeApi.as_view(), name="password-change"),
    path("auth/password/reset", views.PasswordResetApi.as_view(), name="password-reset"),
    path("auth/password/reset/confirm", views.PasswordResetConfirmApi.as_view(), name="password-reset-confirm"),
    path("auth/email/verify", views.EmailVerifyApi.as_view(), name="email-verify"),
    path("auth/email/verify/resend", views.EmailVerifyResendApi.as_view(), name="email-verify-resend"),
    path("auth/sessions", views.SessionListApi.as_view(), name="session-list"),
    path("auth/sessions/<str:session_id>", views.SessionDetailApi.as_view(), name="session-detail"),
]
