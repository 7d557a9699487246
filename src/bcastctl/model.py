"""The one base for frozen models (msgspec Structs), and the one type of a Kubernetes object.

- `FrozenModel`: results and reports (values that cross layers; never mutated).
- `StrictModel`: inputs read from files (the fleet file, the lab's state): frozen, and an
  unknown key is an error rather than silently ignored.
- `Manifest`: a Kubernetes object as a data tree (render builds them, deploy applies them).
- `HttpResponse`: one HTTP answer, however it was reached (a Target, the WHIP client).

A Struct checks nothing when built in code: whatever comes from outside (a file, an HTTP
answer, a dict) becomes a model through `parse` / `parse_json` (types, constraints and
`__post_init__` checks, one `InvalidData` naming the key path). `to_data` is the model as
JSON-ready data (what `-o json` prints); `replace` is a copy with some fields changed.
Models hold lists, not tuples (YAML cannot write a tuple).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import (
    Annotated,
    Any,
    Final,
    Literal,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

import msgspec

from bcastctl.errors import UnreachableError

Manifest = dict[str, Any]
T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
MASK: Final = "**********"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; UnreachableError (naming the URL) when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise UnreachableError(
                f"{self.url}: answered HTTP {self.status} with a body that is not JSON"
            ) from e


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(msgspec.field,))
class _ModelMeta(msgspec.StructMeta):
    """Every model class is frozen and keyword-only (msgspec's `kw_only` is per class)."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any
    ) -> _ModelMeta:
        options.setdefault("kw_only", True)
        options.setdefault("frozen", True)
        return super().__new__(mcls, name, bases, namespace, **options)


# dataclass_transform: type checkers see the same keyword-only, frozen constructor
@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(msgspec.field,))
class FrozenModel(msgspec.Struct, metaclass=_ModelMeta):
    """Frozen, keyword-only, every field in the JSON (none omitted when at its default).

    A whole number in a `float` field (given or default) is stored as a float, so that it
    prints as `2.0`; a subclass's `__post_init__` calls this one first."""

    def __post_init__(self) -> None:
        for name in _float_fields(type(self)):
            value = getattr(self, name)
            if type(value) is int:
                msgspec.structs.force_setattr(self, name, float(value))


class StrictModel(FrozenModel, forbid_unknown_fields=True):
    pass


_FLOAT_FIELDS: dict[type, tuple[str, ...]] = {}


def _is_float(hint: Any) -> bool:
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if hint is float:
        return True
    union = get_origin(hint) in (Union, type(int | None))
    return union and float in get_args(hint) and set(get_args(hint)) <= {float, type(None)}


def _float_fields(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    known = _FLOAT_FIELDS.get(cls)
    if known is None:
        known = tuple(f.name for f in msgspec.structs.fields(cls) if _is_float(f.type))
        _FLOAT_FIELDS[cls] = known
    return known


class FieldError(ValueError):
    """Raised in a `__post_init__` about one field: the key path ends with the field."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(problem)
        self.name = name


class Secret:
    """A secret value: masked in repr, str and `to_data`; `get_secret_value()` reads it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class InvalidData(ValueError):
    """Data that is not a valid model: `path` as `regions[2].geo.lat` ("" for the whole)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def to_data(obj: Any) -> Any:
    """The model as JSON-ready data (dicts, lists, str, numbers, bool, None) in field order;
    enums as their values, datetimes as ISO 8601, secrets masked."""
    return msgspec.to_builtins(obj, enc_hook=_encode)


def replace(obj: S, **changes: Any) -> S:
    """A copy of `obj` with `changes` (checked by `__post_init__`, like a new instance)."""
    return msgspec.structs.replace(obj, **changes)


def parse(cls: type[T], data: Any) -> T:
    """`data` (dicts, lists, scalars) as a `cls`, checked; InvalidData when it is not one.
    Lax like YAML readers expect: "8080" is a port, 3.0 an int."""
    try:
        return msgspec.convert(data, cls, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as e:
        raise _invalid(e, cls) from e


def parse_json(cls: type[T], text: str | bytes) -> T:
    """JSON text as a `cls`, checked; InvalidData when it is not JSON or not one."""
    try:
        return msgspec.json.decode(text, type=cls, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as e:
        raise _invalid(e, cls) from e
    except msgspec.DecodeError as e:
        raise InvalidData("", f"not JSON: {e}") from e


def _encode(obj: Any) -> Any:
    if isinstance(obj, Secret):
        return MASK
    raise NotImplementedError(f"cannot write {type(obj).__name__} as data")


def _decode(cls: type, obj: Any) -> Any:
    if cls is Secret:
        if isinstance(obj, str):
            return Secret(obj)
        raise TypeError(f"Expected `str`, got `{type(obj).__name__}`")  # worded as msgspec's
    raise NotImplementedError(f"cannot read {type(obj).__name__} as {cls.__name__}")


_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>.*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(
    r"^Object (?P<what>missing required|contains unknown) field `(?P<name>.*)`$"
)
_BOUND = re.compile(r"^Expected `(?P<type>[^`]*)` (?P<op><=|>=|<|>) (?P<limit>\S+)$")
_LENGTH = re.compile(r"^Expected `(?P<type>[^`]*)` of length (?P<op><=|>=) (?P<limit>\d+)$")
_PATTERN = re.compile(r"^Expected `str` matching regex (?P<regex>'.*')$", re.DOTALL)
_TYPE = re.compile(r"^Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`$")
_OPS: Final = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}


def _invalid(error: msgspec.ValidationError, cls: type) -> InvalidData:
    """msgspec's `<problem> - at `$.a[0].b`` as the project's `a[0].b` and a problem in words."""
    match = _AT.match(str(error))
    assert match is not None  # the pattern matches any text
    path = (match["path"] or "").removeprefix(".")
    problem = match["problem"]
    cause = error.__cause__
    if isinstance(cause, FieldError):
        return InvalidData(_join(path, cause.name), problem)
    if isinstance(cause, ValueError):
        return InvalidData(path, problem)
    named = _NAMED_FIELD.match(problem)
    if named:
        what = "required key is missing" if named["what"] == "missing required" else "unknown key"
        return InvalidData(_join(path, named["name"]), what)
    if problem.startswith("Invalid enum value "):
        choices = ", ".join(repr(choice) for choice in _choices(cls, path))
        got = problem.removeprefix("Invalid enum value ")
        return InvalidData(path, f"must be one of {choices}; got {got}")
    return InvalidData(path, _words(problem))


def _words(problem: str) -> str:
    bound = _BOUND.match(problem)
    if bound:
        return f"must be {_OPS[bound['op']]} {bound['limit'].removesuffix('.0')}"
    length = _LENGTH.match(problem)
    if length:
        unit = "character" if length["type"] == "str" else "item"
        plural = "" if length["limit"] == "1" else "s"
        return f"must have {_OPS[length['op']]} {length['limit']} {unit}{plural}"
    pattern = _PATTERN.match(problem)
    if pattern:  # shown as written in YAML terms: the whole value must match
        regex = str(ast.literal_eval(pattern["regex"])).removesuffix("\\Z") + "$"
        return f"must match the pattern '{regex}'"
    typed = _TYPE.match(problem)
    if typed:
        expected = typed["expected"].replace(" | ", " or ")
        return f"expected {expected}, got {typed['got']}"
    return problem[0].lower() + problem[1:] if problem else problem


def _choices(cls: type, path: str) -> tuple[Any, ...]:
    """The allowed values of the Literal field at `path` of `cls`, in declared order."""
    import msgspec.inspect as mi

    node: Any = mi.type_info(cls)
    owner: Any = None
    name = ""
    for index, key in re.findall(r"\[(\d+)\]|([^.\[]+)", path):
        members = node.types if isinstance(node, mi.UnionType) else (node,)
        if index:
            node = next((m.item_type for m in members if hasattr(m, "item_type")), None)
            continue
        found = [(m.cls, f) for m in members if isinstance(m, mi.StructType) for f in m.fields]
        owner, field_info = next(((c, f) for c, f in found if f.name == key), (None, None))
        node, name = getattr(field_info, "type", None), key
    hint = get_type_hints(owner).get(name) if owner is not None else None
    while hint is not None and get_origin(hint) is not Literal:  # through Annotated, Optional
        hint = next((arg for arg in get_args(hint) if get_args(arg)), None)
    return get_args(hint) if hint is not None else tuple(getattr(node, "values", ()))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
