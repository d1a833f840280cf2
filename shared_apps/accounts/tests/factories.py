"""Typed factory_boy factories of the auth service's models."""

from __future__ import annotations

import factory

from shared_apps.accounts.models import User

PASSWORD = "Tr0ub4dor&3-horse"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class StaffUserFactory(UserFactory):
    is_staff = True
