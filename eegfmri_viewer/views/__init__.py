"""One module per view; each holds one ``QWidget`` built as ``View(state, parent=None)``.

Views never import each other or the workers (see ``docs/architecture.md``).
"""
