"""Recording stand-in for the `llava` package (not on PyPI); see tests/standins/README.md."""
