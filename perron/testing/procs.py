"""Processes seen through /proc (Linux), for tests that check nothing is left behind."""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first, then the parent)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int(_stat(entry.name)[1]) == pid:
                out.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper has exited)."""
    try:
        return _stat(pid)[0] != "Z"
    except (OSError, IndexError):
        return False
