"""The package set EDC installs into QGIS's Python (python_deps/packages.py): choice, pins, constraints."""

import ctypes
import re
from pathlib import Path

from python_deps import packages
from python_deps.install import make_plan, module_names

REPO = Path(__file__).resolve().parents[3]


def pins():
    return {re.split(r"==", line)[0].lower(): line.split("==")[1]
            for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line}


def test_inference_needs_onnx_runtime_only_and_torch_is_optional():
    assert packages.requirements(with_torch=False, gpu=False) == [packages.ONNXRUNTIME]
    assert packages.requirements(with_torch=False, gpu=True) == [packages.ONNXRUNTIME_GPU]
    with_torch = packages.requirements(with_torch=True, gpu=False)
    assert with_torch[0] == packages.ONNXRUNTIME and any(r.startswith("torch==") for r in with_torch)
    assert all("==" in requirement for requirement in with_torch)  # pinned


def test_pins_are_those_of_requirements_txt():
    """The developers' venv (requirements.txt) runs the same versions the plugin installs for users."""
    venv = pins()
    for requirement in packages.requirements(True, True) + [packages.ONNXRUNTIME]:
        name, version = requirement.split("==")
        name = "onnxruntime-gpu" if name == "onnxruntime" else name  # the venv has the GPU build, same version
        assert venv[name] == version, requirement


def test_numpy_is_pinned_to_qgis_own_or_below_2():
    assert packages.constraints({"numpy": "1.24.2", "scipy": None}) == ["numpy==1.24.2"]
    assert packages.constraints({"numpy": None, "scipy": "1.10.1"}) == ["scipy==1.10.1", "numpy<2"]


def test_gpu_build_only_where_the_nvidia_driver_loads(monkeypatch):
    assert packages.nvidia_driver_loads("darwin") is False
    loaded = []
    monkeypatch.setattr(ctypes, "CDLL", lambda name: loaded.append(name))
    assert packages.nvidia_driver_loads("linux") is True and loaded == ["libcuda.so.1"]
    assert packages.nvidia_driver_loads("win32") is True and loaded[-1] == "nvcuda.dll"

    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")
    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert packages.nvidia_driver_loads("linux") is False


def test_plan_for_this_python(tmp_path):
    plan = make_plan(tmp_path / "edc_packages", with_torch=False, gpu=False)
    assert plan.python and plan.requirements == [packages.ONNXRUNTIME]
    assert plan.target == str(tmp_path / "edc_packages")
    assert "numpy" in plan.keep and any(line.startswith("numpy==1.") for line in plan.constraints)


def test_module_names():
    assert module_names(["onnxruntime-gpu==1.31.1", "torch==2.13.0", "tqdm==4.70.1"]) == ["onnxruntime", "torch",
                                                                                          "tqdm"]
