# lmms-eval looks for `<plugin>.tasks` (an include path) with LMMS_EVAL_PLUGINS; these models add no task.
