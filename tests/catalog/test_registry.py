"""The component registry: schemas from __init__ hints, strict validation, discovery."""

from __future__ import annotations

import sys
import textwrap
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from catalog.registry import (
    ComponentModuleError,
    InvalidParamsError,
    RegistrationError,
    Registry,
    UnknownComponentError,
    build_registry,
    get_registry,
    make_component,
)


class Net:
    """A test module.

    Second paragraph, not part of the description.
    """

    def __init__(
        self,
        width: int,
        rate: float = 0.1,
        act: Literal["relu", "tanh"] = "relu",
        sizes: list[int] = [4, 4],  # noqa: B006
        name: str | None = None,
        depth: Annotated[int, Field(ge=1, le=8, description="Layers.")] = 2,
        flag: bool = False,
        backbone: object = None,  # not JSON: hidden from the schema
        **kwargs: object,
    ) -> None:
        self.args = dict(width=width, rate=rate, act=act, sizes=sizes, name=name, depth=depth)

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        return None


def test_schema_is_derived_from_init_hints_and_defaults() -> None:
    comp = make_component(Net, name="net")
    assert comp.kind == "module"
    assert comp.description == "A test module."
    schema = comp.json_schema
    props = schema["properties"]
    assert schema["required"] == ["width"]
    assert schema["additionalProperties"] is False
    assert props["width"]["type"] == "integer"
    assert props["rate"] == {"default": 0.1, "title": "Rate", "type": "number"}
    assert props["act"]["enum"] == ["relu", "tanh"]
    assert props["sizes"]["items"]["type"] == "integer"
    assert {"type": "null"} in props["name"]["anyOf"]
    assert (props["depth"]["minimum"], props["depth"]["maximum"]) == (1, 8)
    assert props["depth"]["description"] == "Layers."
    assert props["flag"]["type"] == "boolean"
    assert "backbone" not in props and "kwargs" not in props


def test_validate_fills_defaults() -> None:
    params = make_component(Net, name="net").validate({"width": 3, "rate": 1})
    assert params == {
        "width": 3, "rate": 1.0, "act": "relu", "sizes": [4, 4], "name": None, "depth": 2,
        "flag": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({}, "width", "required"),
        ({"width": "3"}, "width", "integer"),
        ({"width": 3.5}, "width", "integer"),
        ({"width": True}, "width", "integer"),
        ({"width": 3, "flag": 1}, "flag", "boolean"),
        ({"width": 3, "act": "gelu"}, "act", "relu"),
        ({"width": 3, "sizes": [1, "x"]}, "sizes.1", "integer"),
        ({"width": 3, "depth": 9}, "depth", "8"),
        ({"width": 3, "colour": "red"}, "colour", "unknown parameter"),
    ],
)
def test_validate_names_the_offending_field(params: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidParamsError) as info:
        make_component(Net, name="net").validate(params)
    fields = {e["field"]: e["message"] for e in info.value.errors}
    assert field in fields
    assert message in fields[field]
    assert field in str(info.value)


def test_build_constructs_with_validated_params() -> None:
    net = make_component(Net, name="net").build({"width": 5})
    assert net.args["width"] == 5 and net.args["depth"] == 2


def test_declared_params_model_replaces_derivation() -> None:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        width: int = 7

    class Loose:
        def __init__(self, **kwargs: object) -> None:
            self.kwargs = kwargs

        def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            return None

    comp = make_component(Loose, name="loose", params=Params)
    assert comp.validate({}) == {"width": 7}
    assert comp.build({"width": 2}).kwargs == {"width": 2}


def test_required_non_json_parameter_is_refused_at_registration() -> None:
    class Bad:
        def __init__(self, backbone: object) -> None: ...

        def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            return None

    with pytest.raises(RegistrationError, match="backbone"):
        make_component(Bad, name="bad")


def test_registry_lookup_and_duplicates() -> None:
    registry = Registry()
    registry.add(make_component(Net, name="net"))
    registry.add(make_component(Net, name="net"))  # the same class again is fine
    with pytest.raises(UnknownComponentError, match="registered modules: net"):
        registry.get("module", "resnet")
    with pytest.raises(UnknownComponentError):
        registry.get("datamodule", "net")

    class Other(Net):
        pass

    with pytest.raises(RegistrationError, match="registered twice"):
        registry.add(make_component(Other, name="net"))


def test_builtins_are_registered_with_their_kinds() -> None:
    registry = get_registry()
    names = {(c.kind, c.name) for c in registry.all()}
    assert {("module", "autoencoder"), ("module", "mlp_classifier")} <= names
    assert {("datamodule", n) for n in ("digits", "mnist", "synthetic")} <= names
    ae = registry.get("module", "autoencoder").validate({})
    assert ae == {
        "input_dim": 64, "hidden_dim": 64, "latent_dim": 3, "lr": 1e-3,
        "predict_output": "reconstruction",
    }  # fmt: skip


def test_component_modules_setting_registers_user_components(tmp_path, monkeypatch) -> None:
    (tmp_path / "my_components.py").write_text(
        textwrap.dedent(
            '''
            from catalog.registry import component

            @component("my_data", kind="datamodule")
            class MyData:
                """User data."""

                def __init__(self, n: int = 4) -> None:
                    self.n = n
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = build_registry(["my_components"])
        assert registry.get("datamodule", "my_data").validate({"n": 2}) == {"n": 2}
        assert registry.get("module", "autoencoder")  # built-ins still there
    finally:
        sys.modules.pop("my_components", None)
        from trainyard import registry as module

        module._declared[:] = [c for c in module._declared if c.name != "my_data"]


def test_missing_component_module_fails_loudly() -> None:
    with pytest.raises(ComponentModuleError, match="no module named 'no_such_module_xyz'"):
        build_registry(["no_such_module_xyz"])


def test_a_component_module_that_raises_names_the_error_and_the_line(tmp_path, monkeypatch) -> None:
    (tmp_path / "raising_components.py").write_text("x = 1\nraise RuntimeError('no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ComponentModuleError) as raised:
        build_registry(["raising_components"])
    assert str(raised.value) == (
        "COMPONENT_MODULES: importing 'raising_components' failed: RuntimeError: no GPU here "
        f"({tmp_path / 'raising_components.py'}, line 2)"
    )


def test_entry_point_group_registers_installed_components(tmp_path, monkeypatch) -> None:
    """A distribution on sys.path declaring `[trainyard.components]` is picked up."""
    (tmp_path / "ep_components.py").write_text(
        textwrap.dedent(
            '''
            class EpModule:
                """From an entry point."""

                def __init__(self, width: int = 2) -> None:
                    self.width = width

                def training_step(self, batch, batch_idx):
                    return None
            '''
        )
    )
    dist = tmp_path / "ep_components-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-components\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[trainyard.components]\nep_module = ep_components:EpModule\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = build_registry()
        component = registry.get("module", "ep_module")
        assert component.description == "From an entry point."
        assert component.validate({}) == {"width": 2}
    finally:
        sys.modules.pop("ep_components", None)
