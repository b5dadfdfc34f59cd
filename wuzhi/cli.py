"""The `wuzhi` command: Django's management commands under one name.

`wuzhi demo` builds the 福兴 demo community and serves it; `wuzhi stats --json` prints the
figures; every other Django command (migrate, createsuperuser …) works as `wuzhi migrate`.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
    from django.core.management import execute_from_command_line

    args = sys.argv[1:] if argv is None else argv
    execute_from_command_line(["wuzhi", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
