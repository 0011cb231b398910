"""The `medmim` command line: one module per sub-command."""
