# ruff: noqa: ARG005 - bench harness: fixed argv of our own modules; closures run inside their loop iteration
"""The gRPC baseline: a plain grpcio server for ``chat.ChatService/ListConversations`` doing the
same work as the service's servicer, without django-grpc-framework and the site's interceptors
(correlation id, logging, metrics, error mapping, the auth interceptor):

* the same bearer-token verification (``shared_apps.authn.verify.access_token_verify``: JWT
  signature, expiry, type, issuer, audience, and the session check against the revocation
  feed, exactly what ``AccessTokenInterceptor`` calls);
* the same ORM queries (``shared_apps.chat.selectors.conversation_list``: the page and the
  count) and the same response building (``conversation_proto``);
* the same database connection handling as the framework (``close_old_connections`` before
  and after a call: with the production psycopg pool, each call checks a connection out and
  back in);
* the same thread-pool size as ``grpcserve`` (``GRPC_MAX_WORKERS``).

``python -m bench.bare_grpc ADDRESS`` with the chat service's environment (Django settings,
``DATABASE_URL``, ``AUTH_GRPC_TARGET``, the JWT key).
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures

import django
import grpc


def main() -> None:
    address = sys.argv[1]
    django.setup()
    from django.conf import settings
    from django.db import close_old_connections

    from protos import chat_pb2, chat_pb2_grpc
    from shared_apps.authn.verify import access_token_verify, bearer_token
    from shared_apps.chat import selectors
    from shared_apps.chat.grpc_api.servicers import conversation_proto
    from shared_apps.core.errors import ApplicationError, NotAuthenticated

    class Bare(chat_pb2_grpc.ChatServiceServicer):
        def ListConversations(self, request, context):  # noqa: N802
            token = bearer_token(dict(context.invocation_metadata()).get("authorization"))
            if token is None:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "Authentication required.")
            close_old_connections()
            try:
                principal = access_token_verify(token)
                page = selectors.conversation_list(
                    user_id=principal.user_id, limit=request.limit, offset=request.offset
                )
                return chat_pb2.ListConversationsResponse(
                    conversations=[conversation_proto(c) for c in page.items], total=page.total
                )
            except NotAuthenticated as exc:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
            except ApplicationError as exc:
                context.abort(grpc.StatusCode.INTERNAL, exc.message)
            finally:
                close_old_connections()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=settings.GRPC_MAX_WORKERS))
    chat_pb2_grpc.add_ChatServiceServicer_to_server(Bare(), server)
    server.add_insecure_port(address)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop(0)


if __name__ == "__main__":
    main()
