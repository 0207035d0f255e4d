"""The component registry: names that a job spec may use, mapped to classes and parameter schemas.

A component is a LightningModule ("module"), LightningDataModule ("datamodule") or Callback
("callback") class. Its
parameter schema is derived from the type hints and defaults of its `__init__` (or declared as a
pydantic model) and validated strictly: a JSON `"3"` is not an int, unknown names are errors.
No code arrives over HTTP; a spec can only name what is registered here.

Components come from three places, merged by `get_registry(settings)`:
- the built-ins in `catalog.components`;
- the `trainyard.components` entry point group (each entry: a class, a Component, or a module
  whose import calls `register`);
- `settings.component_modules`, modules imported so that their `register(...)` calls or
  `@component(...)` decorators run.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import threading
import traceback
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic_core import PydanticUndefined

Kind = Literal["module", "datamodule", "callback"]
KINDS: tuple[Kind, ...] = ("module", "datamodule", "callback")
ENTRY_POINT_GROUP = "trainyard.components"
BUILTIN_MODULES = ("catalog.components",)

_SCALARS = (int, float, bool, str, type(None))
INT64 = (-(2**63), 2**63 - 1)
_CONTAINERS = (list, tuple, dict)


class ComponentError(Exception):
    """Base of the registry's errors; `str()` says what to fix."""


class UnknownComponentError(ComponentError, LookupError):
    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(
            f"unknown {kind} {name!r}; registered {kind}s: {', '.join(self.known) or '(none)'}"
        )


class InvalidParamsError(ComponentError, ValueError):
    """Parameters that do not fit a component's schema. `errors` holds one entry per field."""

    def __init__(self, component: str, errors: list[dict[str, str]]) -> None:
        self.component, self.errors = component, errors
        parts = [f"{e['field']}: {e['message']}" for e in errors]
        super().__init__(f"invalid params for {component!r}: " + "; ".join(parts))


class RegistrationError(ComponentError, TypeError):
    """A class that cannot be registered (e.g. a required `__init__` argument with no JSON type)."""


@dataclass(frozen=True)
class Component:
    """One registered name. `params_model` validates; `json_schema` is what clients see."""

    name: str
    kind: Kind
    cls: type
    description: str
    params_model: type[BaseModel]
    # builds the object from the validated params, when `cls(**params)` cannot (a callable
    # argument, a JSON-shaped value to convert)
    factory: Callable[..., Any] | None = None
    # callbacks in one group cannot run together (e.g. two ways of averaging the weights)
    exclusive: str | None = None

    @property
    def json_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema()

    def validate(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Check `params` and return them complete with defaults, as JSON-ready values.

        Raises InvalidParamsError naming each offending field (unknown, wrong type, missing).
        """
        return self._parse(params).model_dump(mode="json")

    def build(self, params: dict[str, Any] | None) -> Any:
        """Validate and construct the component (what the worker does)."""
        model = self._parse(params)
        build = self.factory or self.cls
        return build(**{name: getattr(model, name) for name in type(model).model_fields})

    def _parse(self, params: dict[str, Any] | None) -> BaseModel:
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise InvalidParamsError(self.name, [{"field": "", "message": "must be an object"}])
        # Whatever the component's own schema says: no NaN or infinity (first, as a bound
        # would word them oddly), and after the schema's own bounds, no integer past int64.
        refuse_numbers(self.name, params, non_finite)
        try:
            # JSON mode + strict: the values came from JSON, and "3" must not pass as 3.
            parsed = self.params_model.model_validate_json(json.dumps(params), strict=True)
        except ValidationError as exc:
            raise InvalidParamsError(self.name, _field_errors(exc)) from None
        except (TypeError, ValueError) as exc:  # not JSON-serialisable (NaN is, infinity too)
            raise InvalidParamsError(self.name, [{"field": "", "message": str(exc)}]) from None
        refuse_numbers(self.name, parsed.model_dump(mode="json"), outside_int64)
        return parsed

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "params_schema": self.json_schema,
        }


def non_finite(value: Any) -> str | None:
    """NaN and infinities: JSON has neither, but `1e309` parses as infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    return None


def outside_int64(value: Any) -> str | None:
    """An integer no tensor, size or seed holds."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return f"must be between {INT64[0]} and {INT64[1]}"
    return None


def refuse_numbers(component: str, params: Any, check: Callable[[Any], str | None]) -> None:
    """InvalidParamsError naming every field, however deep, whose value `check` refuses."""
    errors = [{"field": path, "message": msg} for path, v in _leaves(params) if (msg := check(v))]
    if errors:
        raise InvalidParamsError(component, errors)


def _leaves(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return [(path, value)]
    return [leaf for k, v in items for leaf in _leaves(v, f"{path}.{k}" if path else str(k))]


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown parameter"
        errors.append({"field": path, "message": message})
    return errors


# ---------------------------------------------------------------- schema derivation


def _is_json_type(tp: Any) -> bool:
    """Whether values of `tp` can be given in JSON (so a client may set the parameter)."""
    if tp in _SCALARS or tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_json_type(typing.get_args(tp)[0])
    if origin is Literal:
        return all(isinstance(a, _SCALARS) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return all(_is_json_type(a) for a in typing.get_args(tp))
    if tp in _CONTAINERS:
        return True
    if origin in _CONTAINERS:
        return all(a is Ellipsis or _is_json_type(a) for a in typing.get_args(tp))
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def params_model_from_init(cls: type, name: str) -> type[BaseModel]:
    """A strict pydantic model of `cls.__init__`'s JSON-typed parameters.

    A parameter whose type cannot come from JSON (an nn.Module, a callable) is left out when it
    has a default and refused when it does not. A parameter without a hint takes the type of its
    default. `Annotated[int, Field(ge=1, description=...)]` hints carry bounds and descriptions.
    """
    init = getattr(cls, "__init__")  # noqa: B009 - mypy refuses cls.__init__ on a type
    signature = inspect.signature(init)
    hints = typing.get_type_hints(init, include_extras=True)
    fields: dict[str, Any] = {}
    for pname, param in list(signature.parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = PydanticUndefined if param.default is param.empty else param.default
        hint = hints.get(pname, type(default) if default is not PydanticUndefined else None)
        if hint is None or not _is_json_type(hint):
            if default is PydanticUndefined:
                raise RegistrationError(
                    f"{cls.__qualname__}.__init__ parameter {pname!r} needs a JSON type hint "
                    f"(int, float, bool, str, list, Literal, Optional) or a default"
                )
            continue
        fields[pname] = (hint, default)
    model_name = "".join(part.capitalize() for part in name.replace("-", "_").split("_"))
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{model_name}Params", __config__=ConfigDict(extra="forbid"), **fields
    )


def infer_kind(cls: type) -> Kind:
    # LightningModule also has dataloader and batch hooks, so training_step decides first;
    # a Callback has batch hooks but no dataloaders.
    if callable(getattr(cls, "training_step", None)):
        return "module"
    if callable(getattr(cls, "train_dataloader", None)):
        return "datamodule"
    if callable(getattr(cls, "on_train_batch_end", None)):
        return "callback"
    if callable(getattr(cls, "setup", None)):
        return "datamodule"
    raise RegistrationError(
        f"{cls.__qualname__} is neither a LightningModule, a LightningDataModule nor a Callback; "
        "pass kind="
    )


def make_component(
    cls: type,
    *,
    name: str | None = None,
    kind: Kind | None = None,
    description: str | None = None,
    params: type[BaseModel] | None = None,
    factory: Callable[..., Any] | None = None,
    exclusive: str | None = None,
) -> Component:
    name = name or cls.__name__
    doc = description if description is not None else inspect.getdoc(cls) or ""
    return Component(
        name=name,
        kind=kind or infer_kind(cls),
        cls=cls,
        description=doc.strip().split("\n\n")[0].replace("\n", " "),
        params_model=params or params_model_from_init(cls, name),
        factory=factory,
        exclusive=exclusive,
    )


# ---------------------------------------------------------------- declaration by user modules

# Filled by register()/@component at import time of the modules listed in settings or entry
# points; get_registry() copies it. A list, not a dict: conflicts are reported when merged.
_declared: list[Component] = []
_declared_lock = threading.Lock()


def register(
    cls: type,
    *,
    name: str | None = None,
    kind: Kind | None = None,
    description: str | None = None,
    params: type[BaseModel] | None = None,
    factory: Callable[..., Any] | None = None,
    exclusive: str | None = None,
) -> type:
    """Declare `cls` as a component. Call at import time of a module named in the settings.

    A callback may name a `factory` (building it from the validated params) and an `exclusive`
    group: a job spec may list at most one callback of a group.
    """
    comp = make_component(
        cls, name=name, kind=kind, description=description, params=params, factory=factory,
        exclusive=exclusive,
    )  # fmt: skip
    with _declared_lock:
        _declared.append(comp)
    return cls


def component(
    name: str | None = None,
    *,
    kind: Kind | None = None,
    description: str | None = None,
    params: type[BaseModel] | None = None,
) -> Callable[[type], type]:
    """Decorator form of `register`: `@component("my_model")`."""

    def decorate(cls: type) -> type:
        return register(cls, name=name, kind=kind, description=description, params=params)

    return decorate


# ---------------------------------------------------------------- the registry


@dataclass
class Registry:
    """Components by kind and name."""

    components: dict[Kind, dict[str, Component]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )

    def add(self, comp: Component) -> None:
        existing = self.components[comp.kind].get(comp.name)
        if existing is not None and existing.cls is not comp.cls:
            raise RegistrationError(
                f"{comp.kind} {comp.name!r} is registered twice: "
                f"{_qualname(existing.cls)} and {_qualname(comp.cls)}"
            )
        self.components[comp.kind][comp.name] = comp

    def get(self, kind: Kind, name: str) -> Component:
        try:
            return self.components[kind][name]
        except KeyError:
            raise UnknownComponentError(kind, name, self.components[kind]) from None

    def all(self) -> list[Component]:
        return [c for k in KINDS for _, c in sorted(self.components[k].items())]


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_entry_points(registry: Registry) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, Component):
            registry.add(obj)
        elif isinstance(obj, type):
            registry.add(make_component(obj, name=ep.name))
        # A module: importing it ran its register() calls, collected below.


class ComponentModuleError(ComponentError, ImportError):
    """A COMPONENT_MODULES entry that cannot be imported: `str()` is one line saying which,
    why, and where it was looked for."""


def import_component_module(module: str) -> None:
    """Import `module` so that its components register; a failure is a ComponentModuleError."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            raise _import_failed(module, exc) from exc  # found, but it imports something missing
        raise ComponentModuleError(
            f"COMPONENT_MODULES: no module named {module!r} (looked in the current folder "
            f"{os.getcwd()} and on the Python path); put {module.split('.')[0]}.py there or "
            f"install the package that holds it"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - whatever the user's module raises at import
        raise _import_failed(module, exc) from exc


def _import_failed(module: str, exc: BaseException) -> ComponentModuleError:
    where = ""
    # The user's file, not the import machinery's frozen frames.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}, line {exc.lineno})"
    elif frames:
        where = f" ({frames[-1].filename}, line {frames[-1].lineno})"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ComponentModuleError(
        f"COMPONENT_MODULES: importing {module!r} failed: {type(exc).__name__}: {message}{where}"
    )


def build_registry(component_modules: Iterable[str] = ()) -> Registry:
    """Import built-ins, entry points and `component_modules`, and collect their components."""
    for module in (*BUILTIN_MODULES, *component_modules):
        import_component_module(module)
    registry = Registry()
    _load_entry_points(registry)
    with _declared_lock:
        declared = list(_declared)
    for comp in declared:
        registry.add(comp)
    return registry


_cache: dict[tuple[str, ...], Registry] = {}
_cache_lock = threading.Lock()


def get_registry(settings: Any = None) -> Registry:
    """The registry for `settings` (anything with `component_modules`), built once per process."""
    modules = tuple(getattr(settings, "component_modules", None) or ())
    with _cache_lock:
        if modules not in _cache:
            _cache[modules] = build_registry(modules)
        return _cache[modules]
