"""The plugin in a separate pytest run, the way a user's project meets it: under xdist, with the
marker, and with its usage errors. Each test writes a small project to ``tmp_path`` and runs
``python -m pytest`` on it in a subprocess (loopback only: nothing here opens a socket)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from emulator.inprocess import mock

ROOT = Path(__file__).resolve().parent.parent

# What a user's project needs when the package is pip-installed: nothing. A bare checkout has no
# pytest11 entry point, so the generated project registers the plugin from its conftest.
CONFTEST = """
from emulator.plugin import ensure_registered


def pytest_configure(config):
    ensure_registered(config)
"""

TESTS = """
import pytest
import telnyx

EXPECTED_ID = {expected!r}


@pytest.mark.telnyx_emulator(seed=7)
@pytest.mark.parametrize("n", range(8))
def test_seeded_call(telnyx_emulator, n):
    assert telnyx_emulator.calls == []  # every test starts empty, whichever worker runs it
    call = telnyx_emulator.create_call(webhook_url="http://app.test/hook")
    assert call.call_control_id == EXPECTED_ID  # same seed, same IDs, in every process
    client = telnyx.Telnyx()
    client.calls.actions.transfer(call.call_control_id, to="+13125550101")
    telnyx_emulator.run_until_idle()
    assert telnyx_emulator.events() == ["call.initiated", "call.initiated", "call.hangup"]


@pytest.mark.telnyx_emulator(scenario="busy")
class TestForcedScenario:
    def test_even_the_catch_all_is_busy(self, telnyx_emulator):
        call = telnyx_emulator.create_call()
        telnyx.Telnyx().calls.actions.transfer(call.call_control_id, to="+13125550100")
        telnyx_emulator.run_until_idle()
        assert telnyx_emulator.webhooks[-1].payload["hangup_cause"] == "user_busy"

    @pytest.mark.telnyx_emulator(scenario="rejected")
    def test_the_closest_marker_wins(self, telnyx_emulator):
        assert telnyx_emulator.scenario == "rejected"
"""


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name in ("TELNYX_API_KEY", "TELNYX_BASE_URL", "TELNYX_PUBLIC_KEY"):
        env.pop(name, None)
    # A user's project has no schemathesis: its plugin alone costs seconds of pytest start-up.
    plugins_off = ["-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:schemathesis"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins_off, "-p", "no:hypothesispytest", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write_project(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_generated.py").write_text(textwrap.dedent(tests))
    return tmp_path


def test_runs_under_xdist(tmp_path: Path) -> None:
    with mock(seed=7) as emu:
        expected = emu.create_call().call_control_id
    project = write_project(tmp_path, TESTS.format(expected=expected))

    result = run_pytest(project, "-n", "2", "-v", "-W", "error::pytest.PytestUnknownMarkWarning")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 passed" in result.stdout
    assert "[gw0]" in result.stdout
    assert "[gw1]" in result.stdout


def test_marker_is_registered(tmp_path: Path) -> None:
    project = write_project(tmp_path, "")
    result = run_pytest(project, "--markers")
    assert "@pytest.mark.telnyx_emulator(scenarios=()" in result.stdout


def test_marker_misuse_is_a_clear_error(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        """
        import pytest

        @pytest.mark.telnyx_emulator(sead=1)
        def test_typo(telnyx_emulator):
            pass

        @pytest.mark.telnyx_emulator("busy")
        def test_positional(telnyx_emulator):
            pass
        """,
    )
    result = run_pytest(project, "-q")
    assert result.returncode != 0
    assert "unknown option(s) sead" in result.stdout
    assert "keyword arguments only" in result.stdout
