# `wuzhi simulate-callers`: Django finds commands by file name, so the hyphenated name the
# README uses is this alias of simulate_callers.
from .simulate_callers import Command  # noqa: F401
