"""`wuzhi gen-city`: the dashed spelling of gen_city (the issue names the command so)."""

from .gen_city import Command

__all__ = ["Command"]
