"""The pip command line and pip's output read as progress (python_deps/pip_command.py)."""

from python_deps.pip_command import PipProgress, last_error, pip_command

# What pip 23 printed for the runtime set (onnxruntime, QGIS's NumPy pinned), shortened.
PIP_OUTPUT = """\
Looking in links: /opt/wheels
WARNING: Location 'file:///x/simple/onnxruntime/' is ignored: it is neither a file nor a directory.
Collecting onnxruntime==1.31.1
  Downloading onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl (23.8 MB)
Processing /opt/pypi/files/flatbuffers-25.12.19-py2.py3-none-any.whl
Collecting numpy>=1.21.6
  Downloading numpy-1.24.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (17.3 MB)
Collecting packaging
  Downloading packaging-26.4-py3-none-any.whl (140 kB)
Installing collected packages: flatbuffers, protobuf, packaging, numpy, onnxruntime
Successfully installed flatbuffers-25.12.19 numpy-1.24.2 onnxruntime-1.31.1 packaging-26.4 protobuf-7.36.2
WARNING: Running pip as the 'root' user can result in broken permissions
""".splitlines()


def test_command_installs_into_the_target_without_a_shell_or_progress_bars():
    argv = pip_command("/usr/bin/python3.11", "/p/python/edc_packages.installing", ["onnxruntime==1.31.1"],
                       "/p/c.txt")
    assert argv[:4] == ["/usr/bin/python3.11", "-m", "pip", "install"]
    assert argv[argv.index("--target") + 1] == "/p/python/edc_packages.installing"
    assert argv[argv.index("--progress-bar") + 1] == "off" and argv[argv.index("-c") + 1] == "/p/c.txt"
    assert {"--upgrade", "--no-warn-script-location"} <= set(argv) and argv[-1] == "onnxruntime==1.31.1"


def test_progress_rises_step_by_step_to_100():
    progress = PipProgress()
    steps = [step for step in map(progress.feed, PIP_OUTPUT) if step]
    percents = [percent for percent, _ in steps]
    assert len(steps) == 9 and percents == sorted(percents) and len(set(percents)) == len(percents)
    assert percents[-2:] == [90, 100] and all(p < 85 for p in percents[:-2])
    assert steps[0][1] == "Finding packages: onnxruntime==1.31.1"
    assert steps[1][1].startswith("Downloading: onnxruntime-1.31.1")
    assert steps[-2][1].startswith("Installing: flatbuffers, protobuf")
    assert progress.feed("WARNING: Location is ignored") is None and progress.feed("") is None


def test_last_error_is_pips_error_line():
    lines = ["Collecting tqdm==0.0.0", "ERROR: Could not find a version that satisfies the requirement tqdm==0.0.0",
             "ERROR: No matching distribution found for tqdm==0.0.0", ""]
    assert last_error(lines) == "ERROR: No matching distribution found for tqdm==0.0.0"
    assert last_error(["/usr/bin/python3: No module named pip"]) == "/usr/bin/python3: No module named pip"
    assert last_error([]) == "pip printed nothing"
