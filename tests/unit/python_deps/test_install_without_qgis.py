"""python_deps/install.py for real, without QGIS: a failing or cancelled pip, or none, changes nothing and says why.
(A successful install runs through the QGIS task in tests/integration/qgis/test_install_task.py.)"""

import os

import pytest

from python_deps.install import InstallPlan, install, make_plan
from python_deps.target_folder import LOG_NAME

SMALL = "tqdm==4.70.1"


def plan_for(target, requirements):
    plan = make_plan(target, with_torch=False, gpu=False)
    return InstallPlan(plan.python, plan.target, requirements, plan.constraints, plan.keep)


@pytest.mark.slow
def test_a_failing_pip_changes_nothing_and_says_why(tmp_path):
    target = tmp_path / "edc_packages"
    target.mkdir()
    (target / "keep.py").write_text("x = 1\n")
    result = install(plan_for(target, ["tqdm==0.0.0.0"]), on_line=lambda line: None)
    assert not result.ok and not result.cancelled
    assert result.error.startswith("pip failed: ERROR:") and "tqdm==0.0.0.0" in result.error
    assert sorted(os.listdir(target)) == [LOG_NAME, "keep.py"]
    assert sorted(os.listdir(tmp_path)) == ["edc_packages"]


def test_cancelled_before_pip_ran_changes_nothing(tmp_path):
    target = tmp_path / "edc_packages"
    result = install(plan_for(target, [SMALL]), on_line=lambda line: None, cancelled=lambda: True,
                     started=lambda process: process.terminate())
    assert result.cancelled and not result.ok and "nothing was changed" in result.error
    assert os.listdir(target) == [LOG_NAME] and sorted(os.listdir(tmp_path)) == ["edc_packages"]


def test_no_interpreter_found_says_how_to_install_by_hand(tmp_path):
    result = install(InstallPlan("", str(tmp_path / "p"), [SMALL], [], []))
    assert not result.ok and "was not found" in result.error and f"--target {tmp_path / 'p'} {SMALL}" in result.error
    assert not (tmp_path / "p").exists()


def test_an_interpreter_without_pip_gets_the_way_to_install_pip(tmp_path):
    python = tmp_path / "python3"
    python.write_text('#!/bin/sh\necho "$0: No module named pip"\nexit 1\n')
    python.chmod(0o755)
    result = install(InstallPlan(str(python), str(tmp_path / "p"), [SMALL], [], []), on_line=lambda line: None)
    assert not result.ok and f"{python} has no pip" in result.error and "apt install python3-pip" in result.error
    assert os.listdir(tmp_path / "p") == [LOG_NAME]
