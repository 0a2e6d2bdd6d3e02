"""Scenario files: the bundled "magic numbers", matching order, overrides, and problem reports."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from emulator.resources import load_schema, scenarios_dir
from emulator.scenarios import (
    DEFAULT_HANGUPS,
    Amd,
    Hangup,
    Scenario,
    ScenarioBook,
    ScenarioError,
    ScenarioProblem,
    check_paths,
    describe,
    load_file,
)

AREA_CODES = ("312", "415")


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(*paths: Path) -> list[str]:
    return [str(p) for p in check_paths(list(paths))]


@pytest.fixture(scope="module")
def book() -> ScenarioBook:
    return ScenarioBook.load()


# --------------------------------------------------------------------------------------------
# The schema and the bundled scenarios


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema("scenario"))


def test_every_schema_property_is_described() -> None:
    def walk(schema: dict[str, object], where: str) -> None:
        properties = schema.get("properties")
        if isinstance(properties, dict) and "if" not in where:
            assert schema.get("additionalProperties") is False, where
            for key, sub in properties.items():
                if isinstance(sub, dict) and sub != {"not": {}}:
                    assert sub.get("description"), f"{where}.{key} has no description"
                    walk(sub, f"{where}.{key}")
        items = schema.get("items")
        if isinstance(items, dict):
            walk(items, f"{where}[]")

    walk(load_schema("scenario"), "$")


def test_bundled_files_are_valid_and_have_a_comment_header() -> None:
    files = sorted(scenarios_dir().glob("*.yaml"))
    assert len(files) >= 12
    assert check_paths([scenarios_dir()]) == []
    for path in files:
        assert path.read_text(encoding="utf-8").startswith("# "), path.name
        scenario = load_file(path)
        assert scenario.name == path.stem
        assert scenario.description


@pytest.mark.parametrize("area", AREA_CODES)
@pytest.mark.parametrize(
    ("suffix", "name", "outcome", "hangup"),
    [
        ("0101", "busy", "busy", Hangup("user_busy", "486", "callee")),
        ("0102", "no_answer", "no_answer", Hangup("timeout", "unspecified", "callee")),
        ("0103", "rejected", "reject", Hangup("call_rejected", "603", "callee")),
        ("0104", "not_found", "not_found", Hangup("not_found", "404", "callee")),
    ],
)
def test_failure_numbers(
    book: ScenarioBook, area: str, suffix: str, name: str, outcome: str, hangup: Hangup
) -> None:
    scenario = book.match(f"+1{area}555{suffix}")
    assert scenario.name == name
    assert scenario.outcome == outcome
    assert scenario.hangup == hangup
    assert scenario.hangup == DEFAULT_HANGUPS[outcome]
    assert scenario.hangup_after_secs is None
    if outcome != "no_answer":
        assert scenario.ring_secs == 1.0


@pytest.mark.parametrize("area", AREA_CODES)
@pytest.mark.parametrize(
    ("suffix", "name", "ring", "amd", "hangup_after"),
    [
        ("0100", "answered", 1.0, Amd(result="human"), None),
        (
            "0105",
            "voicemail",
            2.0,
            Amd("machine", "machine", 3.0, "beep_detected", 6.0, False),
            None,
        ),
        ("0106", "short_call", 1.0, Amd(result="human"), 10.0),
        ("0107", "amd_not_sure", 1.0, Amd("not_sure", "not_sure", 3.5), None),
        ("0108", "silence", 1.0, Amd("not_sure", "silence", 3.5), None),
        ("0109", "fax", 1.0, Amd("machine", "fax_detected", 2.0), None),
        ("0110", "call_screening", 1.0, Amd("machine", "machine", 2.5, call_screening=True), None),
        (
            "0111",
            "voicemail_no_beep",
            2.0,
            Amd("machine", "machine", 3.0, "ended", 6.0, False),
            None,
        ),
    ],
)
def test_answered_numbers(
    book: ScenarioBook,
    area: str,
    suffix: str,
    name: str,
    ring: float,
    amd: Amd,
    hangup_after: float | None,
) -> None:
    scenario = book.match(f"+1{area}555{suffix}")
    assert scenario.name == name
    assert scenario.outcome == "answer"
    assert scenario.hangup is None
    assert scenario.ring_secs == ring
    assert scenario.amd == amd
    assert scenario.hangup_after_secs == hangup_after
    assert scenario.hangup_after_source == "callee"


@pytest.mark.parametrize(
    "to",
    [
        "+13125550112",
        "+13125550199",
        "+442079460000",
        "+1312555010",  # one digit short of a magic number
        "+131255501011",  # one digit too many
        "sip:alice@example.com",
        "sip:+13125550101@sip.telnyx.com",  # a SIP URI is not the E.164 number
    ],
)
def test_everything_else_is_answered(book: ScenarioBook, to: str) -> None:
    assert book.match(to).name == "answered"


def test_book_order_and_lookup(book: ScenarioBook) -> None:
    names = [s.name for s in book]
    assert names[-1] == "answered"
    assert names[:-1] == sorted(names[:-1])  # bundled file-name order
    assert len(book) == len(names)
    assert "busy" in book
    busy = book.get("busy")
    assert busy is not None and busy.origin.endswith("busy.yaml:3")
    assert book.get("nope") is None


def test_describe(book: ScenarioBook) -> None:
    def summary(name: str) -> str:
        scenario = book.get(name)
        assert scenario is not None
        return describe(scenario)

    assert summary("busy") == "busy (user_busy, SIP 486) after 1 s"
    assert summary("rejected") == "rejected (call_rejected, SIP 603) after 1 s"
    assert summary("no_answer").startswith("no answer (timeout, no SIP code)")
    assert summary("answered") == "answers after 1 s; AMD human; stays up"
    assert "callee hangs up 10 s after answer" in summary("short_call")
    assert "greeting ends with a beep after 6 s" in summary("voicemail")
    assert "ends without a beep" in summary("voicemail_no_beep")
    assert "iOS call screening" in summary("call_screening")
    unavailable = Scenario("u", outcome="unavailable", ring_secs=0.5, hangup=None)
    assert describe(unavailable) == "unavailable (unspecified, SIP 503) after 0.5 s"


# --------------------------------------------------------------------------------------------
# User directories


def test_user_scenario_replaces_bundled_by_name(tmp_path: Path) -> None:
    write(
        tmp_path / "mine",
        "slow_busy.yaml",
        r"""
        name: busy
        match:
          to: ['\+1\d{3}5550101', '\+15005550001']
        ring_secs: 4.5
        outcome: busy
        hangup:
          sip_code: 600
        """,
    )
    book = ScenarioBook.load([tmp_path / "mine"])
    busy = book.match("+13125550101")
    assert busy.origin.endswith("slow_busy.yaml:1")
    assert busy.ring_secs == 4.5
    assert busy.hangup == Hangup("user_busy", "600", "callee")  # partial override, int code
    assert book.match("+15005550001") is busy
    assert [s.name for s in book].count("busy") == 1
    assert book.match("+13125550105").name == "voicemail"  # other bundled ones remain


def test_user_file_named_like_a_bundled_one_replaces_it(tmp_path: Path) -> None:
    write(tmp_path, "voicemail.yaml", "match: {to: ['\\+1\\d{3}5550105']}\noutcome: busy\n")
    assert ScenarioBook.load([tmp_path]).match("+14155550105").outcome == "busy"


def test_user_rules_come_first_and_user_catch_all_beats_answered(tmp_path: Path) -> None:
    write(tmp_path / "a", "b_all.yaml", "outcome: reject\n")
    write(tmp_path / "a", "a_vip.yaml", "match: {to: ['\\+1\\d{3}555010[0-9]']}\n")
    write(tmp_path / "b", "z_all.yaml", "outcome: unavailable\n")
    book = ScenarioBook.load([tmp_path / "a", tmp_path / "b"])
    names = [s.name for s in book]
    assert names[0] == "a_vip"  # user rules before bundled rules
    assert names[-3:] == ["b_all", "z_all", "answered"]  # catch-alls last, user first
    assert book.match("+13125550101").name == "a_vip"  # shadows bundled busy
    assert book.match("+13125550112").name == "b_all"
    assert book.match("sip:bob@example.com").outcome == "reject"


def test_without_bundled_and_without_catch_all(tmp_path: Path) -> None:
    write(tmp_path, "only.yaml", "match: {to: ['\\+15550001']}\n")
    book = ScenarioBook.load([tmp_path], include_bundled=False)
    assert [s.name for s in book] == ["only"]
    assert book.match("+15550001").name == "only"
    with pytest.raises(LookupError, match=r"no scenario matches the destination '\+15550002'"):
        book.match("+15550002")


def test_yml_files_are_read_and_other_files_ignored(tmp_path: Path) -> None:
    write(tmp_path, "one.yml", "outcome: busy\n")
    write(tmp_path, "README.md", "not a scenario: [\n")
    book = ScenarioBook.load([tmp_path], include_bundled=False)
    assert [s.name for s in book] == ["one"]


def test_duplicate_names_in_user_dirs(tmp_path: Path) -> None:
    write(tmp_path / "a", "x.yaml", "outcome: busy\n")
    write(tmp_path / "b", "x.yaml", "outcome: reject\n")
    write(tmp_path / "b", "y.yaml", "# comment\n\nname: x\n")
    with pytest.raises(ScenarioError) as caught:
        ScenarioBook.load([tmp_path / "a", tmp_path / "b"])
    first = f"{tmp_path / 'a' / 'x.yaml'}:1"
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'b' / 'x.yaml'}:1: duplicate scenario name 'x' (already defined at "
        f"{first}); give one of them another `name`",
        f"{tmp_path / 'b' / 'y.yaml'}:3: duplicate scenario name 'x' (already defined at "
        f"{first}); give one of them another `name`",
    ]


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file or directory"):
        ScenarioBook.load([tmp_path / "nope"])


def test_book_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="duplicate scenario name 'a'"):
        ScenarioBook([Scenario("a"), Scenario("a", outcome="busy")])


def test_book_from_objects_puts_catch_alls_last() -> None:
    catch_all = Scenario("all")
    rule = Scenario("rule", match_to=(re.compile(r"\+1.*"),))
    book = ScenarioBook([catch_all, rule])
    assert [s.name for s in book] == ["rule", "all"]
    assert book.match("+1555").name == "rule"
    assert book.match("+44").name == "all"


# --------------------------------------------------------------------------------------------
# Problems: file:line: reason


def one_problem(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, "x.yaml", text)
    found = problems_of(path)
    assert len(found) == 1, found
    prefix = f"{path}:"
    assert found[0].startswith(prefix)
    return found[0][len(prefix) :]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = """
    outcome: busy
    match:
      to: ['\\+1555'
    ring_secs: 1
    """
    assert one_problem(tmp_path, text) == (
        "4: invalid YAML: expected ',' or ']', but got '<scalar>' "
        "(while parsing a flow sequence started at line 3)"
    )


def test_yaml_double_quoted_regex_hint(tmp_path: Path) -> None:
    reason = one_problem(tmp_path, 'match:\n  to: ["\\+1555"]\n')
    assert reason.startswith("2: invalid YAML: found unknown escape character '+'")
    assert "single quotes" in reason


def test_unknown_key_typo(tmp_path: Path) -> None:
    text = """
    # a comment
    outcome: busy
    ring_sec: 2
    """
    assert one_problem(tmp_path, text) == "3: ring_sec: unknown key; did you mean 'ring_secs'?"


def test_unknown_nested_key(tmp_path: Path) -> None:
    text = """
    amd:
      result: machine
      greting: beep_detected
    """
    assert one_problem(tmp_path, text) == "3: amd.greting: unknown key; did you mean 'greeting'?"


def test_unknown_key_without_close_match(tmp_path: Path) -> None:
    reason = one_problem(tmp_path, "zzz: 1\n")
    assert reason.startswith("1: zzz: unknown key; expected one of: name, description, match,")


def test_wrong_enum(tmp_path: Path) -> None:
    text = """
    name: x



    description: busy, badly spelt


    outcome: bussy
    """
    assert one_problem(tmp_path, text) == (
        "8: outcome: 'bussy' is not one of answer, busy, reject, not_found, no_answer, unavailable"
    )


def test_wrong_nested_enum(tmp_path: Path) -> None:
    text = "outcome: busy\nhangup:\n  cause: busy\n"
    reason = one_problem(tmp_path, text)
    assert reason.startswith("3: hangup.cause: 'busy' is not one of call_rejected, ")


def test_wrong_type(tmp_path: Path) -> None:
    assert one_problem(tmp_path, "ring_secs: two\n") == (
        "1: ring_secs: expected a number, got the string 'two'"
    )
    assert one_problem(tmp_path, "amd:\n  call_screening: 'yes'\n") == (
        "2: amd.call_screening: expected true or false, got the string 'yes'"
    )
    assert one_problem(tmp_path, "match:\n  to: '\\+1555'\n") == (
        "2: match.to: expected a list, got the string '\\\\+1555'"
    )
    assert one_problem(tmp_path, "amd:\n") == (
        "1: amd: expected a mapping (key: value lines), got nothing (null)"
    )


def test_not_a_mapping_and_empty(tmp_path: Path) -> None:
    assert one_problem(tmp_path, "- outcome: busy\n") == (
        "1: expected a mapping (key: value lines), got a list"
    )
    assert one_problem(tmp_path, "# nothing here\n") == (
        "1: the file is empty: expected a mapping of scenario keys"
    )


def test_negative_ring_secs(tmp_path: Path) -> None:
    text = "outcome: busy\nring_secs: -1\n"
    assert one_problem(tmp_path, text) == "2: ring_secs: must not be negative, got -1"


def test_non_finite_secs(tmp_path: Path) -> None:
    text = "amd:\n  detection_secs: .inf\n"
    assert one_problem(tmp_path, text) == "2: amd.detection_secs: must be a finite number, got inf"


def test_bad_regex(tmp_path: Path) -> None:
    text = """
    name: bad
    match:
      to:
        - '\\+1\\d{3}5550101'
        - '[0-9'
    """
    assert one_problem(tmp_path, text) == (
        "5: match.to[1]: invalid regular expression: unterminated character set at position 0"
    )


def test_unescaped_plus_hint(tmp_path: Path) -> None:
    reason = one_problem(tmp_path, "match: {to: ['+15550100']}\n")
    assert reason.startswith("1: match.to[0]: invalid regular expression: nothing to repeat")
    assert "escape a literal plus sign" in reason


def test_empty_match_list(tmp_path: Path) -> None:
    assert one_problem(tmp_path, "match:\n  to: []\n") == (
        "2: match.to: must list at least one pattern (omit `match` for a catch-all)"
    )
    assert one_problem(tmp_path, "match: {}\n") == "1: match: missing required key 'to'"


def test_keys_that_do_not_fit_the_outcome(tmp_path: Path) -> None:
    reason = one_problem(tmp_path, "hangup:\n  cause: user_busy\n")  # outcome defaults to answer
    assert reason.startswith("1: hangup: not allowed when outcome is answer (")
    reason = one_problem(tmp_path, "outcome: busy\nafter_answer:\n  hangup_secs: 3\n")
    assert reason == (
        "2: after_answer: not allowed when outcome is busy (the call is never answered)"
    )
    reason = one_problem(tmp_path, "outcome: no_answer\nring_secs: 5\n")
    assert reason.startswith("2: ring_secs: not allowed when outcome is no_answer")
    reason = one_problem(tmp_path, "outcome: reject\namd: {result: machine}\n")
    assert reason.startswith("2: amd: not allowed when outcome is reject")


def test_hangup_source_needs_hangup_secs(tmp_path: Path) -> None:
    text = "after_answer:\n  hangup_source: caller\n"
    assert one_problem(tmp_path, text) == (
        "2: after_answer.hangup_source: has no effect without hangup_secs"
    )


def test_bad_sip_code_and_name(tmp_path: Path) -> None:
    text = "outcome: busy\nhangup:\n  sip_code: '48'\n"
    assert one_problem(tmp_path, text) == (
        "3: hangup.sip_code: '48' is not a SIP response code (such as \"486\") or unspecified"
    )
    assert one_problem(tmp_path, "outcome: busy\nhangup: {sip_code: 99}\n") == (
        "2: hangup.sip_code: must be at least 100, got 99"
    )
    assert one_problem(tmp_path, "name: my scenario\n").startswith(
        "1: name: 'my scenario' is not a valid name"
    )


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = "outcome: busy\nring_secs: 1\noutcome: reject\n"
    assert one_problem(tmp_path, text) == "3: outcome: duplicate key (first at line 1)"


def test_two_problems_in_one_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "two.yaml",
        """
        outcome: answer
        ring_secs: -2
        match:
          to: ['(']
        amd:
          result: robot
        """,
    )
    assert problems_of(path) == [
        f"{path}:2: ring_secs: must not be negative, got -2",
        f"{path}:4: match.to[0]: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
        f"{path}:6: amd.result: 'robot' is not one of human, machine, not_sure",
    ]


def test_problems_in_two_files_are_all_reported(tmp_path: Path) -> None:
    good = write(tmp_path, "a_good.yaml", "outcome: busy\n")
    first = write(tmp_path, "b_first.yaml", "outcome: maybe\n")
    second = write(tmp_path, "c_second.yaml", "# two\n\namd: {detection_secs: soon}\n")
    with pytest.raises(ScenarioError) as caught:
        ScenarioBook.load([tmp_path])
    problems = caught.value.problems
    assert [(p.file, p.line) for p in problems] == [(str(first), 1), (str(second), 3)]
    assert all(isinstance(p, ScenarioProblem) for p in problems)
    message = str(caught.value)
    assert f"{first}:1: outcome: 'maybe' is not one of" in message
    assert f"{second}:3: amd.detection_secs: expected a number, got the string 'soon'" in message
    assert str(good) not in message
    # check_paths finds the same problems, for files and directories alike.
    assert check_paths([tmp_path]) == problems
    assert check_paths([good, second]) == [problems[1]]


def test_docs_examples_are_valid(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"
    if not docs.is_file():
        pytest.skip("docs/ not available (installed package)")
    blocks = re.findall(r"```yaml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    for index, block in enumerate(blocks):
        write(tmp_path, f"example{index}.yaml", block)
    assert check_paths([tmp_path]) == []


def test_non_string_key(tmp_path: Path) -> None:
    assert one_problem(tmp_path, "1: x\n").startswith("1: 1: unknown key; expected one of:")


def test_load_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "full.yaml",
        r"""
        # A complete scenario.
        name: full-example
        description: Everything spelt out.
        match:
          to: ['\+1\d{3}5550199', 'sip:.*@example\.com']
        ring_secs: 0
        outcome: answer
        amd:
          result: machine
          premium_result: null
          detection_secs: 2
          greeting: not_sure
          greeting_secs: 7.5
          call_screening: false
        after_answer:
          hangup_secs: 0.25
          hangup_source: unknown
        """,
    )
    scenario = load_file(path)
    assert scenario.name == "full-example"
    assert scenario.description == "Everything spelt out."
    assert scenario.matches("+12125550199")
    assert scenario.matches("sip:bob@example.com")
    assert not scenario.matches("sip:bob@example.org")
    assert scenario.ring_secs == 0.0
    assert scenario.amd == Amd("machine", None, 2.0, "not_sure", 7.5, False)
    assert scenario.hangup_after_secs == 0.25
    assert scenario.hangup_after_source == "unknown"
    assert scenario.origin == f"{path}:2"
    with pytest.raises(ScenarioError):
        load_file(write(tmp_path, "bad.yaml", "outcome: nope\n"))
