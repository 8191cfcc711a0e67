"""Exception raised for bad user input (files, formats, sidecars, settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class InputError(ValueError):
    """Bad input: the message names the file and the problem.

    Parameters
    ----------
    path : str | Path | None
        The file or folder at fault (``None`` when no single file is to blame).
    problem : str
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: Optional[Union[str, Path]], problem: str):
        self.path = Path(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)
