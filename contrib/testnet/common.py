"""What every subcommand shares: the progress logger and the machine description."""

from __future__ import annotations

import argparse
import os
import platform
import time

_t_start = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - _t_start:7.1f}s] {msg}", flush=True)


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model or platform.machine()}, {distro or platform.system()}"


def loadavg() -> str:
    """The 1-minute load average (other work on the machine skews every figure)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return "?"


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help of every subcommand: the description as written, and each option's default
    appended, unless its help already says it (or there is none to show)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default in (None, argparse.SUPPRESS) or action.required
                or "default" in text or not action.option_strings):
            return text
        return super()._get_help_string(action)
