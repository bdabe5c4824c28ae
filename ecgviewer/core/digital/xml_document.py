"""Vendor ECG XML files: what their root element is, and parsing them safely.

Every XML reader (Philips, GE MUSE, HL7 aECG, Schiller) tells its files by the
root element and its namespace, read from the first bytes whatever the encoding
(UTF-8 with or without a byte-order mark, UTF-16 with one, ISO-8859-1). Files
are parsed with defusedxml: a DOCTYPE is allowed (GE MUSE names restecg.dtd)
but entity declarations and external references are refused, so a hostile file
cannot expand itself or make the parser fetch anything.

`read_unknown_xml` is the answer for an .xml file no reader claims: it says
what the file is (root element, namespace, version) or that it is not XML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from ecgviewer.core.digital.record import DigitalEcgError, EcgRecord

SNIFF_BYTES = 8192
SUPPORTED_XML = "Philips SierraECG/PhilipsECG, GE MUSE, HL7 aECG and Schiller SEMA XML"
_PROLOG = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.S | re.I
)  # fmt: skip
_START_TAG = re.compile(r"<([A-Za-z_][\w.:-]*)((?:\s+[^>]*?)?)\s*/?>", re.S)
_ATTRIBUTE = re.compile(r"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


@dataclass(frozen=True)
class XmlRoot:
    """The root element of an XML file: local name, namespace ("" when none), attributes."""

    name: str
    namespace: str
    attributes: dict[str, str]


def xml_root(path: Path) -> XmlRoot | None:
    """The root element of the XML file at `path`, from its first bytes; None when not XML."""
    try:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:
        return None
    return root_of_text(decode_head(head))


def decode_head(head: bytes) -> str:
    """The first bytes of a file as text: by its byte-order mark, else UTF-16 by its zero
    bytes, else Latin-1 (which keeps every ASCII tag intact whatever the real encoding)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return _decode(head[len(bom) :], encoding)
    if head[:2] == b"<\x00":
        return _decode(head, "utf-16-le")
    if head[:2] == b"\x00<":
        return _decode(head, "utf-16-be")
    return head.decode("latin-1")


def _decode(data: bytes, encoding: str) -> str:
    if encoding.startswith("utf-16"):
        data = data[: len(data) // 2 * 2]
    return data.decode(encoding, errors="ignore")


def root_of_text(text: str) -> XmlRoot | None:
    """The first element of `text` after the XML declaration, comments and DOCTYPE."""
    position = 0
    while match := _PROLOG.match(text, position):
        position = match.end()
    rest = text[position:].lstrip()
    match = _START_TAG.match(rest)
    if match is None:
        return None
    attributes = {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTRIBUTE.finditer(match[2])}
    prefix, _, name = match[1].rpartition(":")
    namespace = attributes.get(f"xmlns:{prefix}" if prefix else "xmlns", "")
    return XmlRoot(name, namespace, attributes)


def parse_xml(path: Path, what: str) -> Element:
    """The root element of the XML file at `path` (`what`: the format, for messages)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DigitalEcgError(f"{path.name} cannot be read: {error.strerror}.") from error
    try:
        root: Element = SafeElementTree.fromstring(data, forbid_dtd=False)
    except DefusedXmlException as error:
        raise DigitalEcgError(
            f"{path.name} declares XML entities or external references, which ECG Viewer "
            f"never expands (a safety rule); export the {what} file again without them."
        ) from error
    except ParseError as error:
        line, column = error.position
        raise DigitalEcgError(
            f"{path.name} is not complete, well-formed XML (line {line}, column {column}): "
            f"the {what} file is probably truncated or damaged. Copy or export it again."
        ) from error
    return root


def local_name(tag: str) -> str:
    """`tag` without its "{namespace}"."""
    return tag.rpartition("}")[2]


def find(element: Element, path: str) -> Element | None:
    """The first element at `path` ("a/b", ".//c": names without namespace, taken in
    `element`'s own namespace), or None."""
    return element.find(qualified(element, path))


def find_all(element: Element, path: str) -> list[Element]:
    """Every element at `path` (as for `find`)."""
    return element.findall(qualified(element, path))


def find_text(element: Element | None, path: str) -> str:
    """The stripped text at `path` under `element` (as for `find`), "" when absent."""
    found = None if element is None else find(element, path)
    return (found.text or "").strip() if found is not None else ""


def qualified(element: Element, path: str) -> str:
    """`path` with each name step put in `element`'s namespace."""
    namespace = element.tag[: element.tag.index("}") + 1] if element.tag.startswith("{") else ""
    steps = path.split("/")
    return "/".join(step if step in ("", ".", "..", "*") else namespace + step for step in steps)


def read_unknown_xml(path: Path) -> EcgRecord:
    """Refuse an .xml file that no reader claims, saying what it is (never returns)."""
    root = xml_root(path)
    if root is None:
        raise DigitalEcgError(
            f"{path.name} has an .xml name but is not XML (it does not start with an XML "
            f"element). ECG Viewer reads {SUPPORTED_XML}."
        )
    raise DigitalEcgError(
        f"{path.name} is XML from a vendor or version ECG Viewer does not read: "
        f"{describe_root(root)}. ECG Viewer reads {SUPPORTED_XML}."
    )


def describe_root(root: XmlRoot) -> str:
    """'root element <X>, namespace N, version V' for a message."""
    parts = [f"root element <{root.name}>"]
    if root.namespace:
        parts.append(f"namespace {root.namespace}")
    version = root.attributes.get("version") or root.attributes.get("schemaVersion")
    if version:
        parts.append(f"version {version}")
    return ", ".join(parts)


def sniff_xml_suffix(path: Path) -> bool:
    """True for a file named .xml (the last resort: `read_unknown_xml` explains it)."""
    return path.suffix.lower() == ".xml"
