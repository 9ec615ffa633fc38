"""Bulk imports: validate every row first, report each bad row, write all or nothing."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from backend.common.bodies import decode_json
from backend.errors import DomainError, Invalid

MAX_IMPORT_ROWS = 50_000


class RowError(BaseModel):
    row: int = Field(description="1-based data row or feature index (a CSV header is row 0)")
    field: str | None
    message: str


class ImportResult(BaseModel):
    imported: int = Field(description="rows created")
    updated: int = Field(default=0, description="rows that replaced an existing record")


class ImportRejected(DomainError):
    """422 listing every bad row; nothing was written."""

    status_code = 422

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s); nothing was imported")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {
            "status_code": 422,
            "detail": self.message,
            "errors": [e.model_dump() for e in self.errors],
        }


def validation_errors(row: int, exc: ValidationError) -> list[RowError]:
    return [
        RowError(row=row, field=".".join(str(x) for x in err["loc"]) or None, message=err["msg"])
        for err in exc.errors()
    ]


# A cell a spreadsheet would run as a formula (CSV injection): one that starts with `=` or `@`,
# a tab or a carriage return, or with `+` / `-` and is not a plain number or phone number
# (`+82 10-1234-5678`, `-37.5`), which `+cmd|' /C calc'!A0` and `-2+3+cmd|...` are not.
_FORMULA = re.compile(r"[=@\t\r]|[+-](?![\d .()/-]*\Z)")


def csv_safe(cell: str) -> str:
    """The cell as text a spreadsheet shows and never runs: a would-be formula gets a leading
    apostrophe (OWASP's advice). For every CSV the service reads, and any it writes."""
    return "'" + cell if _FORMULA.match(cell) else cell


def read_csv(body: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Rows of a UTF-8 CSV with a header, numbered from 1, empty cells dropped, formulas
    neutralised (`csv_safe`); and row errors."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the file is not UTF-8 text", field="body") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise Invalid("the CSV file has no header row", field="body")
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    for n, record in enumerate(reader, start=1):
        if n > MAX_IMPORT_ROWS:
            raise Invalid(f"at most {MAX_IMPORT_ROWS} rows per import", field="body")
        if None in record:
            errors.append(RowError(row=n, field=None, message="more cells than header columns"))
            continue
        rows.append(
            (
                n,
                {
                    k.strip(): csv_safe(v.strip())
                    for k, v in record.items()
                    if v is not None and v.strip()
                },
            )
        )
    return rows, errors


def read_features(body: bytes) -> tuple[list[tuple[int, Any, dict[str, Any]]], list[RowError]]:
    """Features of an RFC 7946 FeatureCollection, numbered from 1: (n, geometry, properties)."""
    doc = decode_json(body, max_bytes=None)  # the one depth limit; 422 naming body
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise Invalid("expected a GeoJSON FeatureCollection", field="type")
    features = doc.get("features")
    if not isinstance(features, list):
        raise Invalid("features must be a list", field="features")
    if len(features) > MAX_IMPORT_ROWS:
        raise Invalid(f"at most {MAX_IMPORT_ROWS} features per import", field="features")
    out: list[tuple[int, Any, dict[str, Any]]] = []
    errors: list[RowError] = []
    for n, feat in enumerate(features, start=1):
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            errors.append(RowError(row=n, field="type", message="expected a Feature"))
            continue
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            errors.append(RowError(row=n, field="properties", message="must be an object"))
            continue
        out.append((n, feat.get("geometry"), props))
    return out, errors
