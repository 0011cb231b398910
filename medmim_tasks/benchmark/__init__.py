"""Stage 1, the benchmark: split files, items, sources, image paths, images, fetching and checking the data."""
