"""Running lmms-eval: the one command builder, resumable runs, sweeps and the demo."""
