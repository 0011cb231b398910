"""Stage 4, results: reading runs, statistics, reports, charts, HTML and comparisons."""
