"""Customer analytics: summaries, lifetime-value models and their diagnostics."""
