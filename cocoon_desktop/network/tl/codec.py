"""The TL binary codec: primitives, the constructor registry, and boxed/bare (de)serialisation.

Each Cocoon constructor is a frozen dataclass registered with `@constructor(name, id, result)`;
its fields carry their TL type in the annotation: `Annotated[int, "long"]`,
`Annotated[bool | None, "flags.0?Bool"]`, `Annotated[list[HttpHeader], "vector http.header"]`.
Encoding follows upstream's generated C++ (tl/generate/tl_writer_cpp.cpp): a lower-case type
that names a constructor (`tokensUsed`, `proxy.params`, `vector X`, `int256`) is stored bare, an
upper-case type with several constructors (`proxy.SignedPayment`) is stored boxed with its id,
`Bool` as `boolTrue`/`boolFalse`, `#` as an unsigned 32-bit word. Every decoding failure raises
`TlError` naming the constructor and field, so a bad frame yields one clear log line.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

BOOL_TRUE = 0x997275B5
BOOL_FALSE = 0xBC799737
MAX_VECTOR_ITEMS = 1 << 20  # a sane bound: a frame holds at most 2**24 bytes


class TlError(ValueError):
    """Bytes that are not a valid TL object of the expected kind."""


class TlUnknownConstructor(TlError):
    """A constructor id that this build does not know (a newer or a broken peer)."""

    def __init__(self, constructor_id: int, expected: str | None) -> None:
        where = f" where {expected} was expected" if expected else ""
        super().__init__(f"unknown TL constructor {constructor_id:#010x}{where}")
        self.constructor_id = constructor_id


_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


class TlReader:
    """Reads little-endian TL primitives from a byte string, failing clearly on truncation."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _advance(self, size: int) -> int:
        """The offset of the next `size` bytes, which are then consumed."""
        pos = self._pos
        if size < 0 or pos + size > len(self._data):
            raise TlError(f"truncated TL data: need {size} bytes at offset {pos}, "
                          f"have {self.remaining}")
        self._pos = pos + size
        return pos

    def take(self, size: int) -> bytes:
        pos = self._advance(size)
        return self._data[pos : pos + size]

    def int32(self) -> int:
        return _I32.unpack_from(self._data, self._advance(4))[0]

    def uint32(self) -> int:
        return _U32.unpack_from(self._data, self._advance(4))[0]

    def int64(self) -> int:
        return _I64.unpack_from(self._data, self._advance(8))[0]

    def double(self) -> float:
        return _F64.unpack_from(self._data, self._advance(8))[0]

    def bytes_(self) -> bytes:
        first = self._data[self._advance(1)]
        if first < 254:
            size, header = first, 1
        elif first == 254:
            size, header = int.from_bytes(self.take(3), "little"), 4
        else:
            raise TlError(f"bad TL string length marker 0xff at offset {self._pos - 1}")
        value = self.take(size)
        self._advance((-(header + size)) % 4)  # padding skipped unread, as upstream's TlParser
        return value

    def expect_end(self, what: str) -> None:
        if self.remaining:
            raise TlError(f"{self.remaining} unexpected bytes after {what}")


class TlWriter:
    """Accumulates little-endian TL primitives."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> None:
        self._parts.append(data)

    def int32(self, value: int) -> None:
        self._parts.append(_I32.pack(value))

    def uint32(self, value: int) -> None:
        self._parts.append(_U32.pack(value))

    def int64(self, value: int) -> None:
        self._parts.append(_I64.pack(value))

    def double(self, value: float) -> None:
        self._parts.append(_F64.pack(value))

    def bytes_(self, value: bytes) -> None:
        size = len(value)
        if size < 254:
            header = bytes([size])
        elif size < 1 << 24:
            header = b"\xfe" + size.to_bytes(3, "little")
        else:
            raise TlError(f"TL string too long: {size} bytes")
        self._parts += [header, value, b"\x00" * ((-(len(header) + size)) % 4)]

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


@dataclasses.dataclass(frozen=True)
class TlType:
    """A parsed field type: optional `flags.N?` condition, then `vector X`, a scalar or a name."""

    text: str
    flag_bit: int | None
    vector_of: TlType | None
    name: str

    @classmethod
    def parse(cls, text: str) -> TlType:
        flag_bit = None
        body = text
        if "?" in text:
            cond, body = text.split("?", 1)
            flag_bit = int(cond.split(".", 1)[1])
        if body.startswith("vector "):
            return cls(text, flag_bit, cls.parse(body[len("vector ") :]), "vector")
        return cls(text, flag_bit, None, body)


class TlObject:
    """Base of every registered constructor dataclass."""

    TL_NAME: ClassVar[str]
    TL_ID: ClassVar[int]
    TL_RESULT: ClassVar[str]
    TL_FIELDS: ClassVar[tuple[tuple[str, TlType], ...]]
    # TL_FIELDS with each field's name for errors, and the optional fields' flag bits,
    # worked out once at registration rather than for every object
    TL_PLAN: ClassVar[tuple[tuple[str, TlType, str], ...]]
    TL_OPTIONAL: ClassVar[tuple[tuple[str, int], ...]]

    def encode(self, boxed: bool = True) -> bytes:
        writer = TlWriter()
        write_object(writer, self, boxed)
        return writer.getvalue()


BY_ID: dict[int, type[TlObject]] = {}
BY_NAME: dict[str, type[TlObject]] = {}
BY_RESULT: dict[str, list[type[TlObject]]] = {}
T = TypeVar("T", bound=type)


_ANNOTATED_TL = re.compile(r"^Annotated\[.*,\s*['\"]([^'\"]+)['\"]\]$", re.S)


def _field_tl_type(cls: type, name: str) -> TlType:
    annotation = cls.__annotations__[name]
    match = _ANNOTATED_TL.match(annotation if isinstance(annotation, str) else "")
    if match is None:
        raise RuntimeError(f"{cls.__name__}.{name} needs an Annotated[..., \"tl type\"] hint")
    return TlType.parse(match.group(1))


def constructor(name: str, constructor_id: int, result: str) -> Callable[[T], T]:
    """Register a frozen dataclass as the TL constructor `name#constructor_id = result`."""

    def register(cls: T) -> T:
        fields = tuple((f.name, _field_tl_type(cls, f.name)) for f in dataclasses.fields(cls))
        cls.TL_NAME, cls.TL_ID, cls.TL_RESULT, cls.TL_FIELDS = name, constructor_id, result, fields
        cls.TL_PLAN = tuple((f, t, f"{name}.{f}") for f, t in fields)
        cls.TL_OPTIONAL = tuple((f, t.flag_bit) for f, t in fields if t.flag_bit is not None)
        if constructor_id in BY_ID:
            raise RuntimeError(f"duplicate TL id {constructor_id:#x} for {name}")
        BY_ID[constructor_id] = cls
        BY_NAME[name] = cls
        BY_RESULT.setdefault(result, []).append(cls)
        return cls

    return register


def _write_value(writer: TlWriter, tl_type: TlType, value: Any, where: str) -> None:
    name = tl_type.name
    try:
        if tl_type.vector_of is not None:
            writer.uint32(len(value))
            for item in value:
                _write_value(writer, tl_type.vector_of, item, where)
        elif name == "int":
            writer.int32(value)
        elif name == "#":
            writer.uint32(value)
        elif name == "long":
            writer.int64(value)
        elif name == "double":
            writer.double(value)
        elif name == "string":
            writer.bytes_(value.encode("utf-8"))
        elif name == "bytes":
            writer.bytes_(bytes(value))
        elif name == "int256":
            if len(value) != 32:
                raise TlError(f"{where}: int256 needs 32 bytes, got {len(value)}")
            writer.raw(bytes(value))
        elif name == "Bool":
            writer.uint32(BOOL_TRUE if value else BOOL_FALSE)
        elif name in BY_NAME:  # a constructor named as a type: bare
            write_object(writer, _checked(value, BY_NAME[name], where), boxed=False)
        elif name in BY_RESULT:  # a polymorphic type: boxed
            if type(value) not in BY_RESULT[name]:
                raise TlError(f"{where}: {type(value).__name__} is not a {name}")
            write_object(writer, value, boxed=True)
        else:
            raise TlError(f"{where}: unsupported TL type {name}")
    except (struct.error, AttributeError, TypeError) as exc:
        raise TlError(f"{where}: cannot store {value!r} as {tl_type.text}: {exc}") from exc


def _checked(value: Any, cls: type[TlObject], where: str) -> TlObject:
    if not isinstance(value, cls):
        raise TlError(f"{where}: expected {cls.TL_NAME}, got {type(value).__name__}")
    return value


def write_object(writer: TlWriter, obj: TlObject, boxed: bool) -> None:
    """Store `obj`; `flags` gets the bits of the optional fields that are present."""
    if boxed:
        writer.uint32(obj.TL_ID)
    flags = _effective_flags(obj)
    for field_name, tl_type, where in obj.TL_PLAN:
        if tl_type.name == "#":
            writer.uint32(flags)
            continue
        value = getattr(obj, field_name)
        if tl_type.flag_bit is not None:
            if not flags >> tl_type.flag_bit & 1:
                continue
            if value is None:
                raise TlError(f"{where} is required when flags bit {tl_type.flag_bit} is set")
        _write_value(writer, tl_type, value, where)


def _effective_flags(obj: TlObject) -> int:
    flags = getattr(obj, "flags", 0) or 0
    for field_name, bit in obj.TL_OPTIONAL:
        if getattr(obj, field_name) is not None:
            flags |= 1 << bit
    return flags


def _read_value(reader: TlReader, tl_type: TlType, where: str) -> Any:
    name = tl_type.name
    if tl_type.vector_of is not None:
        count = reader.uint32()
        if count > MAX_VECTOR_ITEMS or count > reader.remaining:
            raise TlError(f"{where}: vector of {count} items cannot fit in "
                          f"{reader.remaining} bytes")
        return [_read_value(reader, tl_type.vector_of, where) for _ in range(count)]
    if name == "int":
        return reader.int32()
    if name == "#":
        return reader.uint32()
    if name == "long":
        return reader.int64()
    if name == "double":
        return reader.double()
    if name == "string":
        raw = reader.bytes_()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TlError(f"{where}: string is not valid UTF-8") from exc
    if name == "bytes":
        return reader.bytes_()
    if name == "int256":
        return reader.take(32)
    if name == "Bool":
        marker = reader.uint32()
        if marker not in (BOOL_TRUE, BOOL_FALSE):
            raise TlError(f"{where}: {marker:#010x} is not a Bool")
        return marker == BOOL_TRUE
    if name in BY_NAME:
        return read_object(reader, BY_NAME[name])
    if name in BY_RESULT:
        return read_boxed(reader, name)
    raise TlError(f"{where}: unsupported TL type {name}")


def read_object(reader: TlReader, cls: type[TlObject]) -> TlObject:
    """Read the bare fields of `cls`."""
    values: dict[str, Any] = {}
    flags = 0
    for field_name, tl_type, where in cls.TL_PLAN:
        if tl_type.flag_bit is not None and not flags >> tl_type.flag_bit & 1:
            values[field_name] = None
            continue
        value = _read_value(reader, tl_type, where)
        if tl_type.name == "#":
            flags = value
        values[field_name] = value
    return cls(**values)


def read_boxed(reader: TlReader, expected: str | None = None) -> TlObject:
    """Read a constructor id and its object; `expected` limits it to one result type."""
    constructor_id = reader.uint32()
    cls = BY_ID.get(constructor_id)
    if cls is None:
        raise TlUnknownConstructor(constructor_id, expected)
    if expected is not None and expected != cls.TL_RESULT and expected != cls.TL_NAME:
        raise TlError(f"got {cls.TL_NAME} where {expected} was expected")
    return read_object(reader, cls)


def decode(data: bytes, expected: str | None = None) -> TlObject:
    """Decode one boxed object that must fill `data` exactly."""
    reader = TlReader(data)
    obj = read_boxed(reader, expected)
    reader.expect_end(obj.TL_NAME)
    return obj


def decode_as(data: bytes, cls: type[Any]) -> Any:
    """Decode one boxed object that must be (a subclass of) `cls` or of its TL result type."""
    obj = decode(data)
    if not isinstance(obj, cls):
        raise TlError(f"got {obj.TL_NAME} where {getattr(cls, 'TL_NAME', cls.__name__)} "
                      "was expected")
    return obj


def peek_id(data: bytes) -> int:
    """The constructor id at the start of a boxed object (0 if too short)."""
    return struct.unpack("<I", data[:4])[0] if len(data) >= 4 else 0
