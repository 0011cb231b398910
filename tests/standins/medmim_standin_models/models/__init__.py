# lmms-eval's plugin registry imports `<plugin>.models.<name>.<class>` for each entry.
AVAILABLE_MODELS = {"medmim_sleepy": "Sleepy"}
