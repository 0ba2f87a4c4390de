"""Reshaping pytest's finished junit.xml (shadow_mvs/report/junit_file.py) in the cases a
real verify run rarely shows: a teardown error after a green or red check, testcases that
are not checks, characters XML cannot carry, suite properties already present. The common
case runs end to end in test_ci_reports.py. Docker-free."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from shadow_mvs.report.junit_file import CaseShape, reshape, rewrite

SUITE = "shadow-mvs-verify"


def junit(*cases: str, errors=0, failures=0, skipped=0, tests=0, suite_props="") -> ET.Element:
    """A junit.xml as pytest's junitxml writes it (xunit2)."""
    return ET.fromstring(
        f'<testsuites name="pytest tests"><testsuite name="pytest" errors="{errors}" '
        f'failures="{failures}" skipped="{skipped}" tests="{tests}" time="1.0">'
        f"{suite_props}{''.join(cases)}</testsuite></testsuites>"
    )


def case(check: str | None, *children: str, name="test_x") -> str:
    marker = f'<property name="check" value="{check}" />' if check else ""
    properties = f"<properties>{marker}</properties>" if check else ""
    opening = f'<testcase classname="verify.test_{check}" name="{name}" time="0.1">'
    return f"{opening}{properties}{''.join(children)}</testcase>"


def failure(message: str) -> ET.Element:
    element = ET.Element("failure", message=message)
    element.text = message
    return element


def shape(check: str, verdict: ET.Element | None = None) -> CaseShape:
    return CaseShape(
        f"{check} (F-FAIL-{check.upper()})",
        verdict,
        [("check", check), ("status", "fail" if verdict is not None else "pass")],
    )


def one(root: ET.Element, path: str) -> ET.Element:
    found = root.find(path)
    assert found is not None, path
    return found


def counts(root: ET.Element) -> tuple[str | None, ...]:
    suite = one(root, "testsuite")
    return tuple(suite.get(key) for key in ("tests", "failures", "errors", "skipped"))


def test_a_failed_call_becomes_the_fail_line_and_counts_stay_right():
    pytest_failure = '<failure message="AssertionError">trace</failure>'
    root = junit(case("exporter", pytest_failure), failures=1, tests=1)
    cases = {"exporter": shape("exporter", failure("FAIL|x"))}
    reshape(root, SUITE, [("result", "FAIL")], cases, ())
    testcase = one(root, "testsuite/testcase")
    assert testcase.get("name") == "exporter (F-FAIL-EXPORTER)"
    assert [c.tag for c in testcase] == ["properties", "failure"]
    assert one(testcase, "failure").get("message") == "FAIL|x"
    assert counts(root) == ("1", "1", "0", "0")
    assert one(root, "testsuite").get("name") == SUITE
    props = root.findall("testsuite/properties/property")
    assert [(p.get("name"), p.get("value")) for p in props] == [("result", "FAIL")]


def test_a_blocked_setup_error_becomes_skipped():
    root = junit(case("targets", '<error message="failed on setup">x</error>'), errors=1, tests=1)
    blocked = ET.Element("skipped", type="blocked", message="BLOCKED|blocked by …")
    reshape(root, SUITE, [], {"targets": shape("targets", blocked)}, ())
    assert counts(root) == ("1", "0", "0", "1")
    assert one(root, "testsuite/testcase/skipped").get("type") == "blocked"


def test_a_teardown_error_after_a_green_check_stays_an_error():
    torn = '<error message="failed on teardown with &quot;down failed&quot;">x</error>'
    root = junit(case("slo", torn), errors=1, tests=2)
    reshape(root, SUITE, [], {"slo": shape("slo")}, teardown_errors={"slo"})
    errors = root.findall("testsuite/testcase/error")
    assert [e.get("message") for e in errors] == ['failed on teardown with "down failed"']
    assert counts(root) == ("2", "0", "1", "0")


def test_a_teardown_error_after_a_failed_setup_keeps_its_place_after_the_verdict():
    setup = '<error message="failed on setup with &quot;x&quot;">x</error>'
    torn = '<error message="failed on teardown with &quot;y&quot;">y</error>'
    root = junit(case("rules", setup, torn), errors=2, tests=2)
    reshape(root, SUITE, [], {"rules": shape("rules", failure("FAIL|r"))}, {"rules"})
    testcase = one(root, "testsuite/testcase")
    assert [(c.tag, c.get("message")) for c in testcase][1:] == [
        ("failure", "FAIL|r"),
        ("error", 'failed on teardown with "y"'),
    ]
    assert counts(root) == ("2", "1", "1", "0")


def test_a_second_testcase_from_a_teardown_error_after_a_failed_call_is_left_alone():
    first = case("queries", '<failure message="AssertionError">t</failure>')
    second = case("queries", '<error message="failed on teardown with &quot;z&quot;">z</error>')
    root = junit(first, second, failures=1, errors=1, tests=2)
    reshape(root, SUITE, [], {"queries": shape("queries", failure("FAIL|q"))}, ())
    first_case, second_case = root.findall("testsuite/testcase")
    assert first_case.get("name") == "queries (F-FAIL-QUERIES)"
    assert second_case.get("name") == "test_x"
    assert second_case.find("error") is not None
    assert counts(root) == ("2", "1", "1", "0")


def test_testcases_that_are_not_checks_are_untouched():
    other = case(None, '<failure message="boom">trace</failure>', name="test_other")
    root = junit(other, failures=1, tests=1)
    before = ET.tostring(one(root, "testsuite/testcase"))
    reshape(root, SUITE, [], {"exporter": shape("exporter")}, ())
    assert ET.tostring(one(root, "testsuite/testcase")) == before
    assert counts(root) == ("1", "1", "0", "0")


def test_record_properties_replace_same_named_ones_and_keep_others():
    extra = '<property name="owner" value="ops" /><property name="status" value="?" />'
    testcase = case("grafana").replace("</properties>", f"{extra}</properties>")
    root = junit(testcase, tests=1)
    reshape(root, SUITE, [], {"grafana": shape("grafana")}, ())
    props = root.findall("testsuite/testcase/properties/property")
    assert [(p.get("name"), p.get("value")) for p in props] == [
        ("owner", "ops"),
        ("check", "grafana"),
        ("status", "pass"),
    ]


def test_suite_properties_join_ones_already_recorded():
    existing = '<properties><property name="build" value="42" /></properties>'
    root = junit(suite_props=existing)
    reshape(root, SUITE, [("result", "PASS")], {}, ())
    props = root.findall("testsuite/properties/property")
    assert [p.get("name") for p in props] == ["build", "result"]


def test_characters_xml_cannot_carry_are_shown_not_written(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(ET.tostring(junit(case("exporter"), tests=1), encoding="unicode"))
    verdict = failure("FAIL|log says \x1b[31mred\x00")
    rewrite(path, SUITE, [("last", "a\x07b")], {"exporter": shape("exporter", verdict)}, ())
    text = path.read_text()
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?><testsuites')
    root = ET.fromstring(text)  # still well-formed XML
    message = one(root, "testsuite/testcase/failure").get("message")
    assert message == "FAIL|log says #x1B[31mred#x00"
    assert one(root, "testsuite/properties/property").get("value") == "a#x07b"
