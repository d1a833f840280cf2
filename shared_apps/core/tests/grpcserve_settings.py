"""Settings of the ``grpcserve`` subprocess test: the auth test settings plus ``SleepInterceptor``."""

from auth_site.settings.test import *  # noqa: F403
from auth_site.settings.test import GRPC_EXTRA_INTERCEPTORS

GRPC_EXTRA_INTERCEPTORS = [*GRPC_EXTRA_INTERCEPTORS, "shared_apps.core.tests.slow_calls.SleepInterceptor"]
