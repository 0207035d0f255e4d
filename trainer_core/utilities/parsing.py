"""AttributeDict: the type of ``LightningModule.hparams``."""

from __future__ import annotations

from typing import Any


class AttributeDict(dict):
    """A dict whose keys are also readable and writable as attributes."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(f"Missing attribute {key!r}") from exc

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        del self[key]

    def __repr__(self) -> str:
        if not self:
            return ""
        width = max(len(str(k)) for k in self)
        return "\n".join(
            f'"{k}":{" " * (width - len(str(k)) + 1)}{v}' for k, v in sorted(self.items())
        )


def _attr_holders(model: Any, attribute: str) -> list[Any]:
    """Every object or dict holding ``attribute``: the module, its hparams, the datamodule's."""
    holders: list[Any] = []
    if hasattr(model, attribute):
        holders.append(model)
    if hasattr(model, "hparams") and attribute in model.hparams:
        holders.append(model.hparams)
    trainer = getattr(model, "_trainer", None)
    datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
    if datamodule is not None:
        if hasattr(datamodule, attribute):
            holders.append(datamodule)
        if hasattr(datamodule, "hparams") and attribute in datamodule.hparams:
            holders.append(datamodule.hparams)
    return holders


def lightning_hasattr(model: Any, attribute: str) -> bool:
    """Is ``attribute`` on the module, in its hparams, or on the attached datamodule?"""
    return bool(_attr_holders(model, attribute))


def lightning_getattr(model: Any, attribute: str) -> Any:
    """The value from the last holder (datamodule over hparams over module), as Lightning reads it."""
    holders = _attr_holders(model, attribute)
    if not holders:
        raise AttributeError(
            f"{attribute} is neither stored in the model namespace nor the `hparams` "
            "namespace/dict, nor the datamodule."
        )
    holder = holders[-1]
    return holder[attribute] if isinstance(holder, dict) else getattr(holder, attribute)


def lightning_setattr(model: Any, attribute: str, value: Any) -> None:
    """Set ``attribute`` in every place that holds it (module, hparams, datamodule)."""
    holders = _attr_holders(model, attribute)
    if not holders:
        raise AttributeError(
            f"{attribute} is neither stored in the model namespace nor the `hparams` "
            "namespace/dict, nor the datamodule."
        )
    for holder in holders:
        if isinstance(holder, dict):
            holder[attribute] = value
        else:
            setattr(holder, attribute, value)
