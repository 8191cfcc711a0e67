"""Self-contained HTML reports of analyses and comparisons."""
