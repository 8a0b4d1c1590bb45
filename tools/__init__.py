"""Development tools: the benchmark and the accuracy evaluation (not installed with the package)."""
