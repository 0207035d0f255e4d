"""Built-in components, so that a new user can train at once, offline.

Modules: `autoencoder` (the Lightning tutorial's LitAutoEncoder), `mlp_classifier`.
Datamodules: `digits` (scikit-learn's bundled 8x8 digits), `mnist` (IDX files in a local folder),
`synthetic` (random tensors, for tests and benchmarks).
"""

from catalog.components.autoencoder import LitAutoEncoder
from catalog.components.classifier import MLPClassifier
from catalog.components.digits import DigitsDataModule
from catalog.components.mnist import MNISTDataModule
from catalog.components.synthetic import SyntheticDataModule
from catalog.registry import register

register(LitAutoEncoder, name="autoencoder", kind="module")
register(MLPClassifier, name="mlp_classifier", kind="module")
register(DigitsDataModule, name="digits", kind="datamodule")
register(MNISTDataModule, name="mnist", kind="datamodule")
register(SyntheticDataModule, name="synthetic", kind="datamodule")

__all__ = [
    "DigitsDataModule",
    "LitAutoEncoder",
    "MLPClassifier",
    "MNISTDataModule",
    "SyntheticDataModule",
]
