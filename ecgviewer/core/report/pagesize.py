"""Paper size for the report: A4, US Letter, or chosen from the system locale.

Rule for "auto": take the first non-empty of the environment variables
LC_ALL, LC_PAPER and LANG (the POSIX order of precedence), or else the
process locale from the `locale` module (how Windows and macOS report it).
Its territory (the "US" in "en_US.UTF-8", or "United States" in Windows'
"English_United States") picks US Letter for the countries whose C library
locales use Letter paper (US, Canada, Mexico, the Philippines, Puerto Rico,
Chile, Colombia, Costa Rica, Dominican Republic, Guatemala, Nicaragua,
Panama, El Salvador, Venezuela). Every other territory, and locales with none
("C", "POSIX"), get A4.
"""

from __future__ import annotations

import locale
import os
from collections.abc import Mapping

from ecgviewer.core.errors import ReportError

MM = 72.0 / 25.4
"""PDF points per millimetre."""

PAGE_SIZES: dict[str, tuple[float, float]] = {
    "A4": (210 * MM, 297 * MM),
    "Letter": (612.0, 792.0),
}
"""Portrait (width, height) in points for each supported paper."""

LETTER_TERRITORIES = frozenset(
    {"US", "CA", "MX", "PH", "PR", "CL", "CO", "CR", "DO", "GT", "NI", "PA", "SV", "VE"}
)

# Windows names its locales "Language_Country"; the Letter countries, by name.
_WINDOWS_TERRITORIES: dict[str, str] = {
    "united states": "US",
    "canada": "CA",
    "mexico": "MX",
    "philippines": "PH",
    "puerto rico": "PR",
    "chile": "CL",
    "colombia": "CO",
    "costa rica": "CR",
    "dominican republic": "DO",
    "guatemala": "GT",
    "nicaragua": "NI",
    "panama": "PA",
    "el salvador": "SV",
    "venezuela": "VE",
}

_LOCALE_VARIABLES = ("LC_ALL", "LC_PAPER", "LANG")


def territory_of(locale_name: str) -> str:
    """The upper-case territory code of a locale name, or "" when it has none.

    >>> territory_of("en_US.UTF-8"), territory_of("English_United States"), territory_of("C")
    ('US', 'US', '')
    """
    base = locale_name.split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if "_" not in base:
        return ""
    country = base.split("_", 1)[1].strip()
    if len(country) == 2 and country.isalpha():
        return country.upper()
    return _WINDOWS_TERRITORIES.get(country.lower(), country.upper())


def system_locale_name(environ: Mapping[str, str] | None = None) -> str:
    """The locale that decides the paper size (see the module docstring)."""
    env = os.environ if environ is None else environ
    for variable in _LOCALE_VARIABLES:
        value = env.get(variable, "").strip()
        if value:
            return value
    try:
        return locale.getlocale(locale.LC_CTYPE)[0] or ""
    except ValueError:  # an unparsable locale setting
        return ""


def paper_for_locale(locale_name: str) -> str:
    """Return "Letter" for the Letter territories and "A4" for everything else."""
    return "Letter" if territory_of(locale_name) in LETTER_TERRITORIES else "A4"


def resolve_page_size(
    page_size: str, environ: Mapping[str, str] | None = None
) -> tuple[str, tuple[float, float]]:
    """Turn "A4", "Letter" or "auto" (any case) into a paper name and its portrait size.

    Raises `ReportError` for any other value.
    """
    wanted = page_size.strip().lower().replace("us ", "")
    if wanted == "auto":
        name = paper_for_locale(system_locale_name(environ))
    else:
        matches = [known for known in PAGE_SIZES if known.lower() == wanted]
        if not matches:
            raise ReportError(f"Unknown page size {page_size!r}.", hint="Use A4, Letter or auto.")
        name = matches[0]
    return name, PAGE_SIZES[name]
