"""Strict types where the schema says so: a body's `"revoked": 0` is not `false`, `"lat": true`
is not 1.0, and `?until=0.5` is not half a second after 1970.

Litestar decodes a JSON body to Python values and then has pydantic validate them in its lax
Python mode, which turns 0 into false, true into 1.0 and a date-time string into whatever it
can. Here each request model is validated as the JSON it came from, in pydantic's strict JSON
mode: a UUID, a date-time or an enum still arrives as the string JSON carries it, but a number
is not a boolean and a boolean is not a number (`StrictJsonPydanticPlugin`).

Query parameters are strings; msgspec, which reads them, takes a number for a date-time (Unix
seconds). `Instant` is a date-time that only an RFC 3339 string with its offset can be.

And the schema says what the code sends: a time of day is documented as one
(`TimeOfDaySchemaPlugin`, `LocalTime`), not as a duration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time
from typing import Annotated, Any

import msgspec
from litestar._signature.types import ExtendedMsgSpecValidationError
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin
from litestar.plugins.pydantic import PydanticInitPlugin
from litestar.typing import FieldDefinition
from pydantic import AfterValidator, BaseModel, ValidationError


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _validate_as_json(model_type: type[BaseModel], value: Any) -> BaseModel:
    if isinstance(value, model_type):
        return value
    try:
        return model_type.model_validate_json(msgspec.json.encode(value), strict=True)
    except ValidationError as exc:  # as Litestar's own decoder reports it: per field
        hide = model_type.model_config.get("hide_input_in_errors", False)
        errors: list[dict[str, Any]] = [dict(e) for e in exc.errors(include_input=not hide)]
        raise ExtendedMsgSpecValidationError(errors=errors) from exc


class StrictJsonPydanticPlugin(PydanticInitPlugin):
    """Litestar's pydantic plugin, validating request models in strict JSON mode."""

    @classmethod
    def decoders(
        cls, validate_strict: bool = False
    ) -> list[tuple[Callable[[Any], bool], Callable[[Any, Any], Any]]]:
        return [(_is_model, _validate_as_json), *super().decoders(validate_strict)]


# RFC 3339: a date, "T" (or a space), a time with optional fraction, and "Z" or an offset.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z"
)


class Instant(datetime):
    """A query parameter's date-time: RFC 3339 with its offset (`2026-12-01T09:00:00+09:00`)."""


def _instant(dt: datetime) -> Instant:
    return Instant(
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond, dt.tzinfo
    )


def _decode_instant(_: type[Any], value: Any) -> Instant:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return _instant(value)
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with its offset (2026-12-01T09:00:00Z)")
    # fromisoformat reads at most microseconds: a finer fraction is cut, not refused.
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("z", "Z").replace("t", "T"))
    return _instant(datetime.fromisoformat(text))


INSTANT_DECODER = (lambda t: t is Instant, _decode_instant)


class InstantSchemaPlugin(OpenAPISchemaPlugin):
    """`Instant` in the OpenAPI document: a string of format date-time."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Instant

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME)


def _local(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local time of day, without an offset (09:00 or 09:00:00)")
    return value


# A local time of day (a shift's start): what the API sends and reads, "09:00:00".
LocalTime = Annotated[time, AfterValidator(_local)]
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


class TimeOfDaySchemaPlugin(OpenAPISchemaPlugin):
    """A time of day (`shift_start: "09:00:00"`) in the OpenAPI document: a string HH:MM[:SS],
    which is what the API sends and reads. Litestar documents `datetime.time` as format
    duration ("PT9H"), and JSON Schema's format time is RFC 3339's full-time, which needs an
    offset a local time of day has not."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is time

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(type=OpenAPIType.STRING, pattern=TIME_OF_DAY_PATTERN)
