from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shared_apps.core"
    label = "core"

    def ready(self) -> None:
        from shared_apps.core.grpc_server import dgf_compat

        dgf_compat.apply()
