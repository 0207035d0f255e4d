"""Whether a module can train on a datamodule, as far as their parameters tell, checked at submit.

Valid parameters on each side can still make a job that fails at its first batch: an autoencoder
of 64 inputs fed MNIST's 784 features, a classifier of 2 classes fed labels 0..9. A component
may declare, as static methods of its class taking its validated parameters (a dict):

- a datamodule: `sample_width(params)`, the features of one flattened sample, and
  `label_count(params)`, when its labels are the integers 0..n-1;
- a module: `input_width(params)`, the features it takes, and `class_count(params)`, the
  classes it scores.

Where both sides declare one (or return a number rather than None), they must agree.
"""

from __future__ import annotations

from typing import Any


def _declared(cls: type, name: str, params: dict[str, Any]) -> int | None:
    method = getattr(cls, name, None)
    value = method(params) if callable(method) else None
    return value if isinstance(value, int) else None


def _field(cls: type, name: str) -> str:
    """The parameter a mismatch is reported against: the declaring method names it."""
    return str(getattr(getattr(cls, name, None), "param", name))


def mismatches(
    module: type, module_params: dict[str, Any], datamodule: type, datamodule_params: dict[str, Any]
) -> list[dict[str, str]]:
    """One error per disagreement, against the module's parameter (`field`), saying the fix."""
    errors = []
    width = _declared(module, "input_width", module_params)
    features = _declared(datamodule, "sample_width", datamodule_params)
    if width is not None and features is not None and width != features:
        errors.append(
            {
                "field": _field(module, "input_width"),
                "message": f"is {width} but the datamodule's samples have {features} features; "
                f"set it to {features}",
            }
        )
    classes = _declared(module, "class_count", module_params)
    labels = _declared(datamodule, "label_count", datamodule_params)
    if classes is not None and labels is not None and classes < labels:
        errors.append(
            {
                "field": _field(module, "class_count"),
                "message": f"is {classes} but the datamodule's labels go up to {labels - 1}; "
                f"set it to at least {labels}",
            }
        )
    return errors


def declares(param: str) -> Any:
    """Decorator for a declaring static method: names the parameter a mismatch points at."""

    def mark(method: Any) -> Any:
        method.param = param
        return staticmethod(method)

    return mark
