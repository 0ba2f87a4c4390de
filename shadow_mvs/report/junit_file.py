"""pytest's finished ``junit.xml``, reshaped in place with ElementTree.

pytest's junitxml plugin offers plugins no public way to rename a testcase, swap its
verdict element or add suite properties, so the verify session lets it write the file as
usual and then rewrites that file once, after junitxml's ``pytest_sessionfinish`` wrote it
(see ``CiReports.pytest_unconfigure``). A check's testcase is found by its ``check``
property, which every check item carries as a user property (pytest's public route into
JUnit), so nothing here depends on how junitxml names testcases.

Per check, the testcase gets its name, its record as properties (replacing any with the
same name) and the check's own verdict element in place of pytest's (FAIL line, blocked
as skipped). A teardown error stays as pytest wrote it. The testsuite's counts follow the
swapped elements, exactly as if junitxml had counted them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CHECK_PROPERTY = "check"  # the first record property doubles as the testcase's marker
VERDICT_TAGS = ("failure", "error", "skipped")
COUNT_ATTRIBUTE = {"failure": "failures", "error": "errors", "skipped": "skipped"}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'  # as junitxml writes it
# Characters XML 1.0 cannot carry: shown as #xNN, the way junitxml writes them.
NOT_IN_XML = re.compile("[^\t\n\r\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: object) -> str:
    def shown(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"#x{code:02X}" if code <= 0xFF else f"#x{code:04X}"

    return NOT_IN_XML.sub(shown, str(value))


@dataclass(frozen=True)
class CaseShape:
    """What one check's testcase becomes, taken when the check ended."""

    name: str
    verdict: ET.Element | None  # None for a PASS: pytest's own verdict is removed
    properties: Sequence[tuple[str, str]]


def rewrite(
    path: Path,
    suite_name: str,
    suite_properties: Sequence[tuple[str, str]],
    cases: Mapping[str, CaseShape],
    teardown_errors: Collection[str],
) -> None:
    root = ET.parse(path).getroot()
    reshape(root, suite_name, suite_properties, cases, teardown_errors)
    path.write_text(XML_DECLARATION + ET.tostring(root, encoding="unicode"), encoding="utf-8")


def reshape(
    root: ET.Element,
    suite_name: str,
    suite_properties: Sequence[tuple[str, str]],
    cases: Mapping[str, CaseShape],
    teardown_errors: Collection[str],
) -> None:
    """``teardown_errors``: checks whose teardown failed after a setup/call that did not, so
    their testcase's last verdict element is that teardown error and stays."""
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    suite.set("name", suite_name)
    _properties_of(suite).extend(_property(k, v) for k, v in suite_properties)
    shaped: set[str] = set()
    for case in suite.iter("testcase"):
        check = _check_of(case)
        # A call failure followed by a teardown error makes junitxml write a second
        # testcase for the same test: only the first one is the check's.
        if check is None or check not in cases or check in shaped:
            continue
        shaped.add(check)
        _shape_case(suite, case, cases[check], keep_last=check in teardown_errors)


def _shape_case(suite: ET.Element, case: ET.Element, shape: CaseShape, keep_last: bool) -> None:
    case.set("name", xml_safe(shape.name))
    verdicts = [child for child in case if child.tag in VERDICT_TAGS]
    replaced = verdicts[:-1] if keep_last else verdicts
    anchor = replaced[0] if replaced else (verdicts[-1] if verdicts else None)
    where = list(case).index(anchor) if anchor is not None else len(case)
    for child in replaced:
        case.remove(child)
        _count(suite, child.tag, -1)
    if shape.verdict is not None:
        case.insert(where, _safe_copy(shape.verdict))
        _count(suite, shape.verdict.tag, +1)
    properties = _properties_of(case)
    names = {name for name, _ in shape.properties}
    for old in [p for p in properties if p.get("name") in names]:
        properties.remove(old)
    properties.extend(_property(k, v) for k, v in shape.properties)


def _check_of(case: ET.Element) -> str | None:
    properties = case.find("properties")
    if properties is None:
        return None
    for prop in properties.iter("property"):
        if prop.get("name") == CHECK_PROPERTY:
            return prop.get("value")
    return None


def _properties_of(parent: ET.Element) -> ET.Element:
    """The ``<properties>`` child, which junitxml puts first; made if missing."""
    found = parent.find("properties")
    if found is None:
        found = ET.Element("properties")
        parent.insert(0, found)
    return found


def _property(name: str, value: str) -> ET.Element:
    return ET.Element("property", name=xml_safe(name), value=xml_safe(value))


def _safe_copy(element: ET.Element) -> ET.Element:
    copy = ET.Element(element.tag, {k: xml_safe(v) for k, v in element.attrib.items()})
    copy.text = xml_safe(element.text) if element.text is not None else None
    return copy


def _count(suite: ET.Element, tag: str, delta: int) -> None:
    """junitxml's totals: ``tests`` sums the verdicts, so it moves with each of them."""
    for attribute in (COUNT_ATTRIBUTE.get(tag), "tests"):
        if attribute is not None and suite.get(attribute) is not None:
            suite.set(attribute, str(int(suite.get(attribute, "0")) + delta))
