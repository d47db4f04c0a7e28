"""The argument parser every ShotFill command line shares."""

from __future__ import annotations

import argparse
from typing import NoReturn

from shotfill.errors import UsageError


class Parser(argparse.ArgumentParser):
    """Reports bad arguments as a :class:`UsageError` (exit 2, our message style) instead of argparse's exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")
