"""Start the eegfmri_viewer GUI: ``python main.py`` == ``eegfmri-viewer``."""

from eegfmri_viewer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
