"""Tolerant reading of FHIR values in decoded JSON: strings, lists, CodeableConcepts, dates, statuses, Bundles.

Plain dict access only (no fhir.resources on the hot path). A value of the wrong type reads as empty (``""``, ``[]``,
``None``); nothing here raises on bad data. The record readers (:mod:`hooks.record`, :mod:`hooks.medications`,
:mod:`hooks.observations`) are built on these.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from functools import lru_cache
from typing import Any


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_list(value: Any) -> list[Any]:
    """A list as it is, one object as a list of it, anything else as empty (FHIR JSON writes 0..* as a list)."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def as_list_or_str(value: Any) -> list[Any]:
    """:func:`as_list`, and a bare string as a list of it (DSTU2 fields that are a plain string)."""
    if isinstance(value, str):
        return [value]
    return as_list(value)


def codings(cc: Any) -> Iterator[tuple[str, str, str]]:
    """(system, code, display) of each well-formed coding in a CodeableConcept."""
    if type(cc) is not dict:
        return
    coding = cc.get("coding")
    if type(coding) is not list:
        return
    for c in coding:
        if type(c) is dict:
            yield as_str(c.get("system")), as_str(c.get("code")).strip(), as_str(c.get("display"))


def one_line(text: str) -> str:
    """Free text from the record as a single line: it is shown inside markdown lists and tables."""
    return " ".join(text.split())


def texts(cc: Any) -> list[str]:
    """Text and coding displays of a CodeableConcept (or a bare string), each on one line."""
    if type(cc) is str:
        return [one_line(cc)]
    if type(cc) is not dict:
        return []
    text = cc.get("text")
    out = [one_line(text)] if type(text) is str and text else []
    coding = cc.get("coding")
    if type(coding) is list:
        for c in coding:
            if type(c) is dict:
                display = c.get("display")
                if type(display) is str and display:
                    out.append(one_line(display))
    return out


def parse_date(value: Any) -> date | None:
    """FHIR date/dateTime (YYYY, YYYY-MM, YYYY-MM-DD[Thh:mm...]) -> date; partial dates take the first day."""
    if type(value) is not str or len(value) < 4:
        return None
    return _parse_date(value)


@lru_cache(maxsize=8192)
def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    try:
        year = int(value[0:4])
        month = int(value[5:7]) if len(value) >= 7 else 1
        day = int(value[8:10]) if len(value) >= 10 else 1
        return date(year, month, day)
    except ValueError:
        return None


def status_code(value: Any) -> str:
    """Code of a status that is a CodeableConcept (R4) or a plain string (STU3/DSTU2)."""
    if type(value) is str:
        return value.strip().lower()
    for _, code, _ in codings(value):
        if code:
            return code.lower()
    return ""


def resources(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Resources from a sequence that may hold resources, Bundle entries or whole Bundles."""
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("resourceType") == "Bundle":
            yield from resources(e for e in as_list(item.get("entry")))
        elif "resource" in item and "resourceType" not in item:
            res = item.get("resource")
            if isinstance(res, dict):
                yield res
        else:
            yield item


def reference_of(res: dict[str, Any]) -> str:
    return one_line(f"{as_str(res.get('resourceType')) or 'Resource'}/{as_str(res.get('id')) or '?'}")

