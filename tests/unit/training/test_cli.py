"""The training command in-process (``main([...])``, as ``python -m model.train`` runs it): bad dataset folders and
options end with exit status 2 and one ``error:`` line, no weights; every option has its help; ``--sar-width``."""

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.datasets import FAST, generic_folder, whu_folder

from model.training.cli import build_parser, main
from model.training.options import TrainOptions


def _whu_mislabelled(root):
    """WHU-OPT-SAR layout whose labels are checked only when a sample is read (during training)."""
    good, bad = np.full((32, 32), 10), np.full((32, 32), 10)
    bad[0, 0] = 15
    return whu_folder(root, [good, bad], seed=1)


def _generic_without(root, name):
    data = generic_folder(root)
    (data / name).unlink()
    return data


CASES = {
    "folder_missing": (lambda d: d / "nowhere", [], ["does not exist"]),
    "folder_empty": (lambda d: (d / "empty").mkdir() or d / "empty", [], ["Cannot tell which kind of dataset"]),
    "generic_without_samples": (lambda d: generic_folder(d / "g", n=0), ["--dataset", "generic"],
                                ["no", "optical/, sar/ and label/"]),
    "label_outside_classes": (lambda d: generic_folder(d / "g", label_value=7), [],
                              ["label values [7] are outside the 2 classes", "Fix the label raster"]),
    "whu_label_not_a_class": (lambda d: _whu_mislabelled(d / "w"), ["--dataset", "whu_opt_sar"], ["values [15]"]),
    "unpaired_files": (lambda d: _generic_without(d / "g", "sar/s2.tif"), [],
                       ["have no partner (e.g. 's2')", "remove the unpaired files or add the missing ones"]),
    "no_classes_json": (lambda d: _generic_without(d / "g", "classes.json"), ["--dataset", "generic"],
                        ["has no classes.json"]),
    "bad_classes_json": (lambda d: (generic_folder(d / "g") / "classes.json").write_text("{oops") and d / "g", [],
                         ["classes.json"]),
    "cuda_without_gpu": (lambda d: generic_folder(d / "g"), ["--device", "cuda"], ["--device cuda", "--device cpu"]),
    "resume_without_checkpoint": (lambda d: generic_folder(d / "g"), ["--resume"],
                                  ["no checkpoint", "start without --resume"]),
    "cloud_cover_out_of_range": (lambda d: generic_folder(d / "g"), ["--max-cloud-coverage", "1.5"],
                                 ["--max-cloud-coverage 1.5 is outside 0.05..1"]),
    "sar_width_out_of_range": (lambda d: generic_folder(d / "g"), ["--sar-width", "3"],
                               ["--sar-width 3.0 is outside 0.05..2"]),
    "sar_width_for_a_baseline": (lambda d: generic_folder(d / "g"), ["--sar-width", "1", "--architecture",
                                                                     "early_concat"],
                                 ["--sar-width applies to the EDC network only"]),
    "edc_version_unknown": (lambda d: generic_folder(d / "g"), ["--edc-version", "4"],
                            ["--edc-version 4 is not a network version"]),
    "net_options_not_key_value": (lambda d: generic_folder(d / "g"), ["--net-options", "decoder"],
                                  ["--net-options entry 'decoder' is not key=value"]),
    "net_options_unknown_key": (lambda d: generic_folder(d / "g"), ["--net-options", "decodr=unet"],
                                ["unknown network option(s) decodr"]),
    "net_options_bad_value": (lambda d: generic_folder(d / "g"), ["--edc-version", "2", "--net-options",
                                                                  "decoder=fpn"], ["'decoder' is 'fpn'"]),
    "net_options_window_not_a_list": (lambda d: generic_folder(d / "g"), ["--net-options", "window=16"],
                                      ["window=16 is not of the kind of its default [4, 4]; give e.g. window=[4, 4]"]),
    "net_options_unclosed_list": (lambda d: generic_folder(d / "g"), ["--net-options", "window=[16,8"],
                                  ['window="[16,8" is not of the kind']),
    "net_options_flag_not_a_flag": (lambda d: generic_folder(d / "g"), ["--net-options", "sar_path=maybe"],
                                    ['sar_path="maybe" is not of the kind of its default false']),
    "init_from_teacher_without_teacher": (lambda d: generic_folder(d / "g"), ["--init-from-teacher"],
                                          ["--init-from-teacher needs a teacher phase"]),
    "unknown_normalisation": (lambda d: generic_folder(d / "g"), ["--normalization", "zscore"],
                              ["Unknown normalisation 'zscore'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_training_input(case, tmp_path, capsys):
    if case == "cuda_without_gpu" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    build, extra, expected = CASES[case]
    data, out = build(tmp_path), tmp_path / "run"
    status = main(["--data", str(data), "--out", str(out), "--epochs", "1", "--teacher-epochs", "0", *FAST, *extra])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("error: ") or "\nerror: " in err, err
    for text in expected:
        assert text in err, err
    assert not list(Path(out).glob("*.pt")), "a failed run left weights behind"


def test_out_is_a_file(tmp_path, capsys):
    data = generic_folder(tmp_path / "g")
    (tmp_path / "taken").write_text("a file")
    assert main(["--data", str(data), "--out", str(tmp_path / "taken"), "--epochs", "1", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Output folder") and str(tmp_path / "taken") in err


def test_option_not_a_number(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--data", str(tmp_path), "--epochs", "ten"])
    assert stop.value.code == 2 and "--epochs: invalid int value" in capsys.readouterr().err


def test_every_option_has_help_and_the_dataclass_default():
    parser = build_parser()
    defaults = TrainOptions(data="")
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(actions) == set(vars(defaults))
    for name, action in actions.items():
        assert action.help and action.help.strip(), name
        if name != "data":
            assert action.default == getattr(defaults, name), name
    assert vars(parser.parse_args(["--data", "x", "--crop", "0", "--sar-width", "1"])) == \
        vars(TrainOptions(data="x", crop=0, sar_width=1.0))


@pytest.mark.slow
def test_sar_width_gives_a_full_width_sar_stream(tmp_path, capsys):
    """``--sar-width 1.0``: the weights carry a SAR stream as wide as the optical one (16-32-48-64 channels in the
    tiny preset instead of 8-16-24-32) and load back into a network of that shape."""
    from model.network import build_model, preset_config
    from model.weights import open_weights
    data = generic_folder(tmp_path / "g")
    assert main(["--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--teacher-epochs", "1",
                 *FAST, "--sar-width", "1.0"]) == 0, capsys.readouterr().err
    weights = open_weights(tmp_path / "run" / "model.pt")
    assert weights.metadata["config"]["sar_dims"] == weights.metadata["config"]["dims"] == [16, 32, 48, 64]
    model = weights.build_model()
    with torch.no_grad():
        feats = model.sar(torch.randn(1, 2, 64, 64))
    assert [f.shape[1] for f in feats] == [16, 32, 48, 64]
    half = build_model("edc", preset_config("tiny", 3, 2, 2))
    assert sum(p.numel() for p in model.parameters()) > sum(p.numel() for p in half.parameters())


@pytest.mark.slow
def test_edc_v2_recipe_trains_and_its_weights_load(tmp_path, capsys):
    """``--edc-version 2`` with the v2 recipe switches: the weights carry the v2 config and the recipe, load back,
    and the student started from the teacher (``--init-from-teacher``)."""
    from model.training.loop import Trainer
    from model.weights import open_weights
    data = generic_folder(tmp_path / "g")
    v2 = ["--edc-version", "2", "--soft-reliability", "--ignore-real-clouds", "--init-from-teacher",
          "--net-options", "drop_path=0.1"]
    assert main(["--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--teacher-epochs", "1",
                 *FAST, *v2]) == 0, capsys.readouterr().err
    weights = open_weights(tmp_path / "run" / "model.pt")
    config, record = weights.metadata["config"], weights.metadata["training"]
    assert config["edc_version"] == 2 and config["decoder"] == "unet" and config["drop_path"] == 0.1
    assert record["init_from_teacher"] and record["soft_reliability"] and record["ignore_real_clouds"]
    weights.build_model()
    opts = build_parser().parse_args(["--data", str(data), "--out", str(tmp_path / "run2"), "--epochs", "1",
                                      "--teacher-epochs", "1", *FAST, *v2])
    trainer = Trainer(TrainOptions(**vars(opts)), log=lambda msg: None)
    teacher = trainer._build("teacher")
    torch.nn.init.constant_(teacher.dchf[0].proj_opt[0].weight, 0.125)
    trainer.teacher_state = trainer._state_cpu(teacher)
    student = trainer._start_phase(1, "student", 1, None).model.state_dict()
    assert all(torch.equal(student[k], v) for k, v in trainer.teacher_state.items())
    assert any(k.startswith("cloud_removal.") for k in student)


def test_net_options_take_json_lists():
    """A list value keeps its commas (``window=[16,8]``); the entries around it still split at top-level commas."""
    from model.training.options import net_options
    opts = TrainOptions(data="d", out="o", net_options="decoder=multiscale,window=[16,8],mlp_ratio=2")
    assert net_options(opts) == {"decoder": "multiscale", "window": [16, 8], "mlp_ratio": 2}
