"""LightningDataModule: the data side of a run, in one shareable object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader, Dataset

from trainer_core.hooks import DataHooks
from trainer_core.hparams import HyperparametersMixin
from trainer_core.saving import load_datamodule_from_checkpoint, restricted_classmethod

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


class LightningDataModule(DataHooks, HyperparametersMixin):
    """Implement prepare_data/setup and the ``*_dataloader`` methods a stage needs."""

    name: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.trainer: Trainer | None = None

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints under this class's qualname."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...

    def on_exception(self, exception: BaseException) -> None: ...

    @classmethod
    def from_datasets(
        cls,
        train_dataset: Dataset | Iterable[Dataset] | None = None,
        val_dataset: Dataset | Iterable[Dataset] | None = None,
        test_dataset: Dataset | Iterable[Dataset] | None = None,
        predict_dataset: Dataset | Iterable[Dataset] | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        **datamodule_kwargs: Any,
    ) -> LightningDataModule:
        """A datamodule whose dataloaders wrap the given datasets."""

        def loaders(ds: Any, shuffle: bool) -> Any:
            def one(d: Any) -> DataLoader:
                return DataLoader(
                    d, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers
                )

            if isinstance(ds, dict):
                return {k: one(v) for k, v in ds.items()}
            if isinstance(ds, (list, tuple)):
                return [one(d) for d in ds]
            return one(ds)

        datamodule = cls(**datamodule_kwargs)
        if train_dataset is not None:
            datamodule.train_dataloader = lambda: loaders(train_dataset, True)  # type: ignore[method-assign]
        if val_dataset is not None:
            datamodule.val_dataloader = lambda: loaders(val_dataset, False)  # type: ignore[method-assign]
        if test_dataset is not None:
            datamodule.test_dataloader = lambda: loaders(test_dataset, False)  # type: ignore[method-assign]
        if predict_dataset is not None:
            datamodule.predict_dataloader = lambda: loaders(predict_dataset, False)  # type: ignore[method-assign]
        return datamodule

    @restricted_classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Build the datamodule from a checkpoint's hyper_parameters and its saved state.

        Loads with ``weights_only=True`` unless ``weights_only=False`` is passed (trusted files
        only: unpickling anything else can run code)."""
        return load_datamodule_from_checkpoint(
            cls, checkpoint_path, map_location, hparams_file, weights_only, **kwargs
        )
