"""`make demo` end to end: demo/run_demo.py runs the zhmc.eda.demo rulebook (by FQCN, from the
collection under test) against hmcsim; every rule that runs a playbook must fire."""
import os
import subprocess
import sys

import pytest

from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.jdk, pytest.mark.slow]


def test_demo_runs_the_scenario_and_ends_by_itself(collections_path):
    env = dict(os.environ, ZHMC_EDA_COLLECTIONS_PATH=collections_path)
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "demo", "run_demo.py")],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "the playbook ran 3 time(s)" in output, output[-4000:]
    for reaction in ("DEMO PLAYBOOK: job-completion", "DEMO PLAYBOOK: status-change partition PART2",
                     "(held: True)", "OS message from PART1: IEE001I"):
        assert reaction in output, reaction
    assert "To run the same rulebook against a real HMC" in output
