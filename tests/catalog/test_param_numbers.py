"""Numbers no component can use are refused by the registry whatever the component's schema.

A user's component may leave its numbers unbounded, or take a dict or list of them: NaN and
infinities are refused anywhere inside (before its schema runs), integers outside int64 after
its own bounds. The built-ins' cross-field limits (network and data set size) hold too.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from catalog.registry import InvalidParamsError, get_registry, make_component


class Loose:
    """A user's module with no bounds at all."""

    def __init__(
        self, width: int = 4, rate: float = 0.1, table: dict[str, Any] | None = None
    ) -> None:
        self.width, self.rate, self.table = width, rate, table

    def training_step(self) -> None: ...


class DeclaredParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sizes: list[int] = [1]
    scale: float = 1.0


def errors_of(params: dict[str, Any], params_model: type[BaseModel] | None = None) -> Any:
    component = make_component(Loose, name="loose", params=params_model)
    with pytest.raises(InvalidParamsError) as refused:
        component.validate(params)
    return refused.value.errors


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused_however_deep(value: float) -> None:
    assert errors_of({"rate": value}) == [
        {"field": "rate", "message": f"must be a finite number, got {value}"}
    ]
    assert errors_of({"table": {"a": [1.0, value]}})[0]["field"] == "table.a.1"
    assert errors_of({"scale": value}, DeclaredParams)[0]["field"] == "scale"


def test_integers_outside_int64_are_refused_when_the_schema_has_no_bound() -> None:
    assert errors_of({"width": 2**63}) == [
        {"field": "width", "message": f"must be between {-(2**63)} and {2**63 - 1}"}
    ]
    assert errors_of({"sizes": [1, -(2**63) - 1]}, DeclaredParams)[0]["field"] == "sizes.1"
    # Within int64 the component's own (absent) bounds decide.
    assert make_component(Loose, name="loose").validate({"width": 2**63 - 1})["width"] == 2**63 - 1


@pytest.mark.parametrize(
    ("kind", "name", "params", "says"),
    [
        ("module", "autoencoder", {"input_dim": 65_536, "hidden_dim": 16_384}, "parameters"),
        ("module", "mlp_classifier", {"hidden_dim": 16_384, "num_classes": 100_000}, "parameters"),
        ("datamodule", "synthetic", {"shape": [512, 512], "train_size": 10_000}, "1 GiB"),
    ],
)
def test_builtins_refuse_a_network_or_data_set_too_large_for_a_worker(
    kind: str, name: str, params: dict[str, Any], says: str
) -> None:
    component = get_registry().get(kind, name)  # type: ignore[arg-type]
    with pytest.raises(InvalidParamsError) as refused:
        component.validate(params)
    assert says in refused.value.errors[0]["message"]
    # The built component is the same class as before: only the parameter model changed.
    assert type(component.build({})) is component.cls
