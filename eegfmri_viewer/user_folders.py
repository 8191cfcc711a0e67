"""Where the application keeps the user's own files (demo data, default results, logs).

No Qt: the views and the core read these as well as the application.
``EEGFMRI_VIEWER_DATA_DIR`` overrides both folders (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The name under which platformdirs files the application's folders.
APPLICATION = "eegfmri_viewer"


def data_dir() -> Path:
    """User data folder (demo dataset, default results): ``EEGFMRI_VIEWER_DATA_DIR`` or ``platformdirs.user_data_dir``."""
    value = os.environ.get("EEGFMRI_VIEWER_DATA_DIR")
    if value:
        return Path(value)
    import platformdirs

    return Path(platformdirs.user_data_dir(APPLICATION))


def log_dir() -> Path:
    """Log folder: ``EEGFMRI_VIEWER_DATA_DIR`` or ``platformdirs.user_log_dir``."""
    value = os.environ.get("EEGFMRI_VIEWER_DATA_DIR")
    if value:
        return Path(value)
    import platformdirs

    return Path(platformdirs.user_log_dir(APPLICATION))
