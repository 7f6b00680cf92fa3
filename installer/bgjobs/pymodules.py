"""The plain modules under plpython/ are the one copy of the channel code and the
schedule math; the installer embeds them into PL/Python and `bgjobs worker` and the
installer import them from here."""

from __future__ import annotations

import importlib
import sys

from .resources import plpython_dir


def load(name: str):
    path = str(plpython_dir())
    if path not in sys.path:
        sys.path.append(path)
    return importlib.import_module(name)


def schedule():
    return load("bgjobs_schedule")


def channels():
    """bgjobs_channels with the seeds' application's templates registered."""
    load("bgjobs_app_templates").register()
    return load("bgjobs_channels")
