"""eegfmri_viewer: simultaneous EEG-fMRI explored with graph neural networks.

The package is layered (see ``docs/architecture.md``): the core
(``io``, ``preprocessing``, ``graphs``, ``models``, ``training``, ``demo``,
``pipeline``, ``results``) never imports Qt; ``state``, ``workers``,
``views`` and ``app`` are the GUI.
"""

__version__ = "0.1.0"
