"""django-grpc-framework keeps working on Django 5.2 and protobuf 7 (``dgf_compat``)."""

from __future__ import annotations

from django_grpc_framework import proto_serializers
from rest_framework import serializers

from protos import auth_pb2
from shared_apps.core.tests.conftest import child_env, manage


class UserProtoSerializer(proto_serializers.ProtoSerializer):
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)

    class Meta:
        proto_class = auth_pb2.User


def test_proto_serializer_reads_a_message():
    # given
    message = auth_pb2.User(id="1", name="Ada")
    # when
    serializer = UserProtoSerializer(message=message)
    # then
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"name": "Ada", "email": ""}


def test_message_to_dict_prints_unset_fields_with_proto_names():
    # given
    from django_grpc_framework.protobuf.json_format import message_to_dict

    # when
    data = message_to_dict(auth_pb2.ListUsersResponse(total=3))
    # then
    assert data == {"users": [], "total": 3, "page": 0, "limit": 0}


def test_grpcrunserver_help():
    # when
    result = manage("grpcrunserver", "--help", env=child_env(DJANGO_SETTINGS_MODULE="auth_site.settings.test"))
    # then
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()
