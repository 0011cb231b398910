# Thin shim for tools that still call setup.py; all configuration is in setup.cfg.
from setuptools import setup

setup()
