"""Sub-commands of the `medmim` CLI (one module each)."""
