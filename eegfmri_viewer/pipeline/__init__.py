"""The headless pipeline: recordings or a BIDS folder in, a results bundle out.

``config`` holds :class:`~eegfmri_viewer.pipeline.config.AnalysisConfig` (the
``config.toml`` schema); ``analyze`` runs preprocessing, graphs, phase 1 (and
phase 2 when EEG is present) and writes the bundle; ``command_analyze`` is the
``eegfmri-viewer analyze`` command. Submodules are imported explicitly so
that importing this package stays light.
"""
