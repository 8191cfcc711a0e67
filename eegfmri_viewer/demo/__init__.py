"""Built-in demo: simulated simultaneous EEG-fMRI in BIDS with a planted ground truth.

``generate_demo_dataset`` writes it, ``ensure_demo_dataset`` reuses a complete
one; the generative model is described in ``docs/demo.md``.
"""

from .generate import DEFAULT, SMALL, ensure_demo_dataset, generate_demo_dataset, is_complete

__all__ = ["DEFAULT", "SMALL", "ensure_demo_dataset", "generate_demo_dataset", "is_complete"]
