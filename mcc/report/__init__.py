"""Reports: per-layer analysis tables and memory summaries."""
