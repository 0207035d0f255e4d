"""The component catalog: the registry of names a job spec may use, and the built-in components.

It sits between trainer_core (below) and the server (api, worker, above), and imports only
trainer_core, torch, numpy and scikit-learn.
"""
