"""`sbrzoo export`: the SR-GNN family, GC-SAN and the GRU / attention models of Table I (GRU4Rec, NARM,
STAMP, RepeatNet, CSRM) as TorchScript and ONNX programs over padded item ids, giving the PyTorch model's
top-20 on real test batches; every other model refused with its reason."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_main
from trained_runs import mapped_dataset, train_run

from sbrzoo import export
from sbrzoo.errors import ConfigError, DataError
from sbrzoo.experiment import evaluation_loader, load_run
from sbrzoo.export import check_exportable, check_program, export_run, load_program, pad_sessions
from sbrzoo.graph import dgl_available
from sbrzoo.models import get_spec, list_models
from sbrzoo.nn.positional import longest_prefix
from sbrzoo.recommend import Recommender

EXPORTED = ["srgnn", "tagnn", "tagnnpp", "tagnnpp_no_gnn", "tagnnpp_no_pe", "gcsan", "gru4rec", "narm", "stamp",
            "repeatnet", "csrm"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - model -> run folder, trained once
    root = tmp_path_factory.mktemp("export")
    data_dir, _ = mapped_dataset(root / "data", raw="int")
    runs: dict[str, Path] = {}

    def get(model: str) -> Path:
        if model not in runs:
            runs[model] = train_run(root / model, data_dir, model)
        return runs[model]

    return get


def needs(fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install -e ".[export]"')
        pytest.importorskip("onnxruntime",
                            reason='running the ONNX program needs onnxruntime: pip install -e ".[export]"')


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("model", EXPORTED)
def test_the_program_gives_pytorchs_top20_on_test_batches(trained, tmp_path: Path, model: str, fmt: str) -> None:
    needs(fmt)
    run = load_run(trained(model), device="cpu", backend="torch")
    info = export_run(run, fmt, tmp_path / f"{model}.{fmt}")
    assert info.k == 20 and info.item_map is not None and info.item_map.name == "item_map.tsv"
    program = load_program(info.path, fmt)
    config = dataclasses.replace(run.config, eval_batch_size=97)  # batches of 97 and a last one of 37
    test = run.dataset.test
    exact = total = 0
    for start, batch in zip(range(0, len(test), 97), evaluation_loader(config, test, run.dataset.num_items),
                            strict=True):
        prefixes = [test.prefix(i) for i in range(start, start + batch.batch_size)]
        with torch.no_grad():
            want = torch.topk(run.model(batch), 20)
        scores, ids = program(pad_sessions(prefixes).numpy())
        same = (ids == want.indices.numpy() + 1).all(axis=1)
        # any other order is a tie: the same scores
        assert np.allclose(scores[~same], want.values.numpy()[~same], atol=1e-5)
        assert np.allclose(scores, want.values.numpy(), atol=1e-4)
        exact, total = exact + int(same.sum()), total + len(same)
    assert total == len(test) and exact >= 0.99 * total
    wider = pad_sessions([[1, 2, 3, 0, 0, 0, 0], [4]])  # extra padding changes nothing
    assert (program(wider.numpy())[1] == program(pad_sessions([[1, 2, 3], [4]]).numpy())[1]).all()


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_session_longer_than_the_positional_table_is_read_from_its_latest_clicks(trained, tmp_path: Path,
                                                                                  fmt: str) -> None:
    needs(fmt)
    run = load_run(trained("tagnnpp"), device="cpu", backend="torch")
    table = longest_prefix(run.model)
    assert table is not None
    clicks = [1 + (i * 7) % run.dataset.num_items for i in range(table + 88)]
    program = load_program(export_run(run, fmt, tmp_path / f"p.{fmt}").path, fmt)
    scores, ids = program(pad_sessions([clicks, [3, 1]]).numpy())
    want_scores, want_ids = program(pad_sessions([clicks[-table:], [3, 1]]).numpy())
    assert (ids == want_ids).all() and np.allclose(scores, want_scores, atol=1e-5)
    recommender = Recommender.from_run(run)  # what `sbrzoo recommend` and `serve` answer for the same session
    recommended = recommender.recommend([recommender.ids.to_raw(clicks)], k=20)[0]
    assert recommended.items == recommender.ids.to_raw(ids[0].tolist())


def test_export_checks_itself_and_any_backend_exports(trained, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run = load_run(trained("tagnn"), device="cpu", backend="dgl" if dgl_available() else "torch")
    export_run(run, "torchscript", tmp_path / "p.pt")
    check = check_program(run, tmp_path / "p.pt", "torchscript", count=200)
    assert check["sessions"] == 200 and check["k"] == 20 and check["max_score_difference"] < 1e-4
    assert check["tied_sessions"] <= 2
    written = load_program(tmp_path / "p.pt", "torchscript")
    for broken in (lambda ids: ids % run.dataset.num_items + 1,  # a lost or extra "+ 1": every id off by one
                   lambda ids: ids[:, ::-1]):  # the right ids, in the wrong order for their scores
        monkeypatch.setattr(export, "load_program", lambda *_, broken=broken: (
            lambda items: (written(items)[0], broken(written(items)[1]))))
        with pytest.raises(DataError, match=r"p.pt: the program's top-20 differs from PyTorch's on \d+ of 200"):
            check_program(run, tmp_path / "p.pt", "torchscript", count=200)
    with pytest.raises(ConfigError, match="already exists"):
        export_run(run, "torchscript", tmp_path / "p.pt")
    export_run(run, "torchscript", tmp_path / "p.pt", overwrite=True, k=5)
    assert load_program(tmp_path / "p.pt", "torchscript")(pad_sessions([[1, 2]]).numpy())[1].shape == (1, 5)


def test_models_that_cannot_be_exported_say_why_in_one_line() -> None:
    exportable = [m for m in list_models() if _exportable(m)]
    assert exportable == ["srgnn", "tagnn", "tagnnpp", "tagnnpp_no_agc", "tagnnpp_no_gnn", "tagnnpp_no_pe",
                          "tagnnpp_no_transformer", "gcsan", "narm", "gru4rec", "stamp", "repeatnet", "csrm"]
    # a composition of an untraced part (LESSR's readout on SR-GNN's encoder)
    untraced = dataclasses.replace(get_spec("srgnn"), name="srgnn_lessr_readout", readout="lessr_attention")
    for spec, reason in [(get_spec("lessr"), "shapes depend on the data"), (get_spec("pop"), "a counting model"),
                         (get_spec("sknn"), "a counting model"), (get_spec("srgnn_ref"), "export srgnn instead"),
                         (untraced, "does not trace its readout 'lessr_attention'")]:
        with pytest.raises(ConfigError) as error:
            check_exportable(spec)
        message = str(error.value)
        assert message.startswith(f"cannot export {spec.name}: ") and reason in message and "\n" not in message


def _exportable(model: str) -> bool:
    try:
        check_exportable(get_spec(model))
    except ConfigError:
        return False
    return True


def test_onnx_without_the_onnx_package_is_a_one_line_error(trained, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[export\]"'):
        export_run(load_run(trained("srgnn"), device="cpu"), "onnx", tmp_path / "p.onnx")
    assert not (tmp_path / "p.onnx").exists()


def test_cli_exports_checks_and_refuses(trained, tmp_path: Path, capsys: pytest.CaptureFixture,
                                        monkeypatch: pytest.MonkeyPatch) -> None:

    def sbrzoo(*args: object) -> tuple[int, str, str]:
        return run_main(monkeypatch, capsys, *args)

    out = tmp_path / "srgnn.pt"
    code, stdout, stderr = sbrzoo("export", trained("srgnn"), "--format", "torchscript", "--out", out, "--json")
    assert code == 0, stderr
    record = json.loads(stdout)
    assert record["check"]["sessions"] == 500 and record["model"] == "srgnn" and "same top-20" in stderr
    assert set(record["inputs"]) == {"items"} and set(record["outputs"]) == {"scores", "item_ids"}
    code, _, stderr = sbrzoo("export", trained("srgnn"), "--format", "torchscript", "--out", out)
    assert code == 1 and "already exists" in stderr
    code, stdout, _ = sbrzoo("export", trained("srgnn"), "--format", "torchscript", "--out", out, "--overwrite",
                             "--no-check")
    assert code == 0 and "in: items" in stdout and "item_map.tsv" in stdout
    pop = train_run(tmp_path / "pop", load_run(trained("srgnn")).dataset.files[0].parent, "pop")
    code, _, stderr = sbrzoo("export", pop, "--format", "onnx", "--out", tmp_path / "pop.onnx")
    assert code == 1 and stderr.startswith("Error: cannot export pop: a counting model") and stderr.count("\n") == 1
    written = load_program(out, "torchscript")  # a program whose ids are off by one fails its check and goes
    monkeypatch.setattr(export, "load_program", lambda *_: lambda items: (written(items)[0], written(items)[1] + 1))
    code, _, stderr = sbrzoo("export", trained("srgnn"), "--format", "torchscript", "--out", out, "--overwrite")
    assert code == 1 and "differs from PyTorch's on 500 of 500" in stderr and f"{out} removed" in stderr
    assert not out.exists()
