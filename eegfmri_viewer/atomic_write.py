"""Atomic creation of output folders and files.

Outputs are first written under a temporary sibling name and renamed into
place, so a crash or a cancelled run never leaves a half-written result under
the final name, and an existing result is only replaced once the new one is
complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from eegfmri_viewer.io.errors import InputError


@contextlib.contextmanager
def atomic_folder(path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or Path
        Final folder.
    force : bool
        Replace an existing folder. Without it an existing ``path`` raises
        :class:`InputError` before anything is written.
    """
    path = Path(path).resolve()
    if path.exists() and not force:
        raise InputError(path, "already exists; choose another folder or use --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            # Move the old folder aside first so that a failure in between
            # never leaves the user with neither version.
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            old.rmdir()
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
