"""Fixes for django-grpc-framework 0.2.1 (its last release) on Django 5.2 and protobuf 7.

We keep the package (its ``Service``/``as_servicer`` base and connection handling, its
proto serializers, its handlers hook) and repair, here and only here, the two places
where it no longer runs:

1. ``grpcrunserver`` sets ``requires_system_checks = False``; Django >= 4.1 demands a
   list or tuple and refuses to load the command. We set ``[]`` (our own ``grpcserve``
   is the supported server; the package's command keeps working for its users).
2. Its serializers call ``MessageToDict(including_default_value_fields=True)``, an
   argument removed in protobuf 5.26; the replacement is
   ``always_print_fields_with_no_presence=True``.

``apply()`` runs once from ``CoreConfig.ready()``. Delete this module when upstream
releases a fixed version.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

_applied = False


def message_to_dict(message: Any, **kwargs: Any) -> dict[str, Any]:
    kwargs.pop("including_default_value_fields", None)
    kwargs.setdefault("always_print_fields_with_no_presence", True)
    kwargs.setdefault("preserving_proto_field_name", True)
    return MessageToDict(message, **kwargs)


def apply() -> None:
    global _applied
    if _applied:
        return
    from django_grpc_framework import proto_serializers
    from django_grpc_framework.management.commands import grpcrunserver
    from django_grpc_framework.protobuf import json_format

    json_format.message_to_dict = message_to_dict
    proto_serializers.message_to_dict = message_to_dict
    grpcrunserver.Command.requires_system_checks = []
    _applied = True
