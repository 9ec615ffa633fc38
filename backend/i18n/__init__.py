"""Texts a person reads, in their language: English (the source) and Korean.

The catalogs are gettext files (`backend/i18n/<locale>/LC_MESSAGES/messages.po`, read with
Babel): each `msgid` is an English text as the code writes it, with `{}` where the code puts a
value (an f-string's field); its `msgstr` is the translation, with `{}` (the values in order)
or `{0}`, `{1}` (a language that orders them otherwise). `tr(text)` finds the text's entry,
exactly or by its pattern, and fills the translation with the text's own values, dates and
numbers written the locale's way. A text without an entry stays as it is. Codes (error fields,
drop reasons, statuses) are never translated; `tests/backend/test_i18n.py` checks that every
text the code raises or explains has its Korean entry.

The locale of a request (`negotiate`): the user's setting (`locale` on their account), else the
first of `Accept-Language` this service speaks, else English. `current()` holds it for the
request (set by `LocaleMiddleware`); the error handlers read it from the request itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES = ("en", "ko")
SOURCE = "en"
ROOT = Path(__file__).parent
_current: ContextVar[str] = ContextVar("fieldsense_locale", default=SOURCE)
_FIELD = re.compile(r"\{(\d*)\}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^-?\d{4,}(\.\d+)?$")


def N_(text: str) -> str:  # gettext's name for "a text to translate, later"
    """Marks a text for the catalogs where it is made; `tr` translates it where it is shown."""
    return text


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    translation: str


@dataclass(frozen=True, slots=True)
class Catalog:
    exact: dict[str, str]
    # Patterns by the first word of their text (None: those that start with a value).
    patterns: dict[str | None, list[_Pattern]]

    def lookup(self, text: str) -> tuple[str, list[str]] | None:
        found = self.exact.get(text)
        if found is not None:
            return found, []
        first = text.split(" ", 1)[0]
        for p in [*self.patterns.get(first, ()), *self.patterns.get(None, ())]:
            m = p.regex.match(text)
            if m:
                return p.translation, list(m.groups())
        return None


def catalog_path(locale: str, domain: str = "messages") -> Path:
    return ROOT / locale / "LC_MESSAGES" / f"{domain}.po"


def entries(locale: str, domain: str = "messages") -> dict[str, str]:
    """The catalog's translated entries (msgid → msgstr)."""
    path = catalog_path(locale, domain)
    if not path.exists():
        return {}
    with path.open("rb") as f:
        po = read_po(f, locale=locale)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


@lru_cache(maxsize=8)
def catalog(locale: str) -> Catalog:
    exact: dict[str, str] = {}
    patterns: dict[str | None, list[_Pattern]] = {}
    for msgid, msgstr in entries(locale).items():
        parts = msgid.split("{}")
        if len(parts) == 1:
            exact[msgid] = msgstr
            continue
        regex = re.compile("^" + "(.+?)".join(re.escape(p) for p in parts) + "$", re.DOTALL)
        head = parts[0].split(" ", 1)
        key = head[0] if len(head) == 2 and head[0] else None
        patterns.setdefault(key, []).append(_Pattern(regex, msgstr))
    exact.update(_holiday_names(locale))
    # Longer texts first: "unknown agent {} (or ...)" before "unknown {}".
    for found in patterns.values():
        found.sort(key=lambda p: -len(p.regex.pattern))
    return Catalog(exact, patterns)


def _holiday_names(locale: str) -> dict[str, str]:
    """The English names of the public holidays of the locale's own country (Korea's for
    Korean), in its language, from the `holidays` package, this year and the next two."""
    country = {"ko": "KR"}.get(locale)
    if country is None:
        return {}
    import holidays

    years = range(date.today().year - 1, date.today().year + 3)
    english = holidays.country_holidays(country, years=years, language="en_US")
    own = holidays.country_holidays(country, years=years, language=locale)
    return {name: own[day] for day, name in english.items() if day in own}


def _value(value: str, locale: str) -> str:
    """A value put in a text, written the locale's way when it is a date or a number."""
    try:
        if _ISO_DATE.match(value):
            return format_date(date.fromisoformat(value), "medium", locale=locale)
        if _NUMBER.match(value):
            return format_decimal(float(value) if "." in value else int(value), locale=locale)
    except ValueError:
        pass
    return value


def fill(translation: str, values: list[str], locale: str) -> str:
    order = iter(range(len(values)))

    def put(m: re.Match[str]) -> str:
        k = int(m.group(1)) if m.group(1) else next(order, len(values))
        return _value(values[k], locale) if k < len(values) else m.group(0)

    return _FIELD.sub(put, translation)


def tr(text: str, locale: str | None = None) -> str:
    """`text` in `locale` (the request's, by default); as it is where there is no entry."""
    locale = locale or _current.get()
    if locale == SOURCE or not text:
        return text
    found = catalog(locale).lookup(text)
    if found is None:
        return text
    translation, values = found
    return fill(translation, [tr(v, locale) for v in values], locale)


def tr_opt(text: str | None) -> str | None:
    return None if text is None else tr(text)


def negotiate(preferred: str | None, accept_language: str | None) -> str:
    """The user's setting when this service speaks it, else the best of Accept-Language."""
    if preferred in LOCALES:
        return preferred
    if not accept_language:
        return SOURCE
    asked = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        if tag and weight > 0:
            asked.append((weight, tag.strip()))
    for _, tag in sorted(asked, key=lambda a: -a[0]):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LOCALES:
            return language
    return SOURCE


def locale_of(scope: Any) -> str:
    """A request's locale, from its ASGI scope (the caller, once authenticated; headers)."""
    user = scope.get("user")
    header = None
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            header = value.decode("latin-1")
            break
    return negotiate(getattr(user, "locale", None), header)


def current() -> str:
    return _current.get()


def use(locale: str) -> Callable[[], None]:
    """Speak `locale` from here on in this context; returns the undo."""
    token = _current.set(locale)
    return lambda: _current.reset(token)
