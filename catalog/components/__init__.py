"""Built-in components, so that a new user can train at once, offline.

Modules: `autoencoder` (the Lightning tutorial's LitAutoEncoder), `mlp_classifier`.
Datamodules: `digits` (scikit-learn's bundled 8x8 digits), `mnist` (IDX files in a local folder),
`synthetic` (random tensors, for tests and benchmarks).
Callbacks: `lr_monitor`, `swa`, `ema`, `grad_accum_schedule`, `timer`, `throughput_monitor`,
`spike_detection`, `device_stats` (catalog/components/callbacks.py).
"""

from catalog.components import autoencoder, classifier, synthetic
from catalog.components.autoencoder import LitAutoEncoder
from catalog.components.callbacks import BUILTIN_CALLBACKS
from catalog.components.classifier import MLPClassifier
from catalog.components.digits import DigitsDataModule
from catalog.components.mnist import MNISTDataModule
from catalog.components.synthetic import SyntheticDataModule
from catalog.registry import register

register(LitAutoEncoder, name="autoencoder", kind="module", params=autoencoder.PARAMS)
register(MLPClassifier, name="mlp_classifier", kind="module", params=classifier.PARAMS)
register(DigitsDataModule, name="digits", kind="datamodule")
register(MNISTDataModule, name="mnist", kind="datamodule")
register(SyntheticDataModule, name="synthetic", kind="datamodule", params=synthetic.PARAMS)
for _name, (_cls, _params, _factory, _exclusive, _about) in BUILTIN_CALLBACKS.items():
    register(
        _cls, name=_name, kind="callback", params=_params, factory=_factory,
        exclusive=_exclusive, description=_about,
    )  # fmt: skip

__all__ = [
    "DigitsDataModule",
    "LitAutoEncoder",
    "MLPClassifier",
    "MNISTDataModule",
    "SyntheticDataModule",
]
