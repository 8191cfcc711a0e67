"""Before / after comparison of sessions: differences, permutation tests, FDR."""
