"""``python -m eegfmri_viewer`` is the same as the ``eegfmri-viewer`` command."""

from eegfmri_viewer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
