#!/usr/bin/env python
"""manage.py of the auth site."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auth_site.settings.local")
    from shared_apps.core.config import settings_or_exit

    settings_or_exit(os.environ["DJANGO_SETTINGS_MODULE"])
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
