"""A server interceptor for the ``grpcserve`` test: a call with ``x-test-sleep: <seconds>`` metadata
first sleeps that long, so the test can have a call in flight when it sends SIGTERM."""

from __future__ import annotations

import time

import grpc

from shared_apps.core.grpc_server.handlers import wrap_handler
from shared_apps.core.grpc_server.interceptors import metadata_value


class SleepInterceptor(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        delay = metadata_value(handler_call_details, "x-test-sleep")
        if not delay:
            return handler

        def around(behaviour, request, context, streaming):
            time.sleep(float(delay))
            return behaviour(request, context)

        return wrap_handler(handler, around)
