from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shared_apps.core"
    label = "core"

    def ready(self) -> None:
        from shared_apps.core.grpc_server import dgf_compat

        dgf_compat.apply()
        _log_the_trusted_client_ip()


def _log_the_trusted_client_ip() -> None:
    """django-structlog binds ``ip`` from ipware's default (the socket peer, as configured);
    bind the client address as ``client_ip`` resolves it, trusting only TRUSTED_PROXIES."""
    import structlog
    from django_structlog import signals

    from shared_apps.core.client_ip import request_client_ip

    def bind(request, **kwargs) -> None:
        structlog.contextvars.bind_contextvars(ip=request_client_ip(request))

    signals.bind_extra_request_metadata.connect(bind, weak=False, dispatch_uid="core.client_ip")
