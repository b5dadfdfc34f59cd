from typing import Any


def register(router: Any) -> None:
    pass
