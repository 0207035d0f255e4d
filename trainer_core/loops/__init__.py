"""The loops: fit (train + in-epoch validation), evaluation, prediction, and orchestration."""
