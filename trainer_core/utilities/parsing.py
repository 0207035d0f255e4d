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
