"""Fashion-MNIST experiment on tiny IDX files that each test writes itself."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import geomalg.nn as geomalg_nn
from geomalg.experiments.data import IdxFormatError, read_idx
from geomalg.experiments.fmnist import (
    VARIANTS,
    NonFiniteLossError,
    OutputExistsError,
    RunConfig,
    Variant,
    available_variant_names,
    build_mlp,
    load_fashion_mnist,
    main,
    prepare_data,
    run_experiment,
)
from geomalg.experiments.fmnist.data import split_train_validation
from geomalg.experiments.fmnist.training import select_learning_rate
from geomalg.experiments.fmnist.variants import LayerOptions, get_variant, hidden_parameter_count

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
REPO_ROOT = Path(__file__).resolve().parents[1]


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Encode ``array`` as IDX by the format definition: magic, big-endian sizes, big-endian data."""
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool) -> Path:
    data = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def synthetic_split(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return images whose class c brightens rows 2c..2c+2, so a small MLP can learn them."""
    labels = rng.integers(0, 10, size=count).astype(np.uint8)
    images = rng.integers(0, 60, size=(count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 * label + 4: 2 * label + 6, :] = 250
    return images, labels


def write_dataset(folder: Path, compress: bool = True, train_count: int = 240, test_count: int = 60,
                  seed: int = 1) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_images, train_labels = synthetic_split(rng, train_count)
    test_images, test_labels = synthetic_split(rng, test_count)
    arrays = dict(zip(STEMS, (train_images, train_labels, test_images, test_labels)))
    for stem, array in arrays.items():
        write_idx(folder / stem, array, compress)
    return arrays


@pytest.fixture(autouse=True)
def single_thread():
    """Run on one thread: the tiny batches gain nothing from more, and a busy machine slows them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "fashion"
    write_dataset(folder)
    return folder


def tiny_config(**changes) -> RunConfig:
    settings = dict(variants=("dense", "low_rank", "block_hadamard"), hidden_sizes=(32, 16), epochs=2,
                    batch_size=32, learning_rates=(3e-3, 1e-2), validation_size=40, seed=3, rank=4,
                    block_size=32)
    settings.update(changes)
    return RunConfig(**settings)


def without_timing(results: dict) -> dict:
    """Return the per-epoch records without wall-clock seconds, which differ between runs."""
    stripped = {}
    for name, entry in results["variants"].items():
        for rate, history in entry["runs"].items():
            stripped[(name, rate)] = [{k: v for k, v in record.items() if k != "seconds"} for record in history]
    return stripped


# IDX reader


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_loader_reads_written_arrays(tmp_path, compress):
    arrays = write_dataset(tmp_path, compress=compress)
    dataset = load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(dataset.train_images, arrays[STEMS[0]])
    np.testing.assert_array_equal(dataset.train_labels, arrays[STEMS[1]])
    np.testing.assert_array_equal(dataset.test_images, arrays[STEMS[2]])
    np.testing.assert_array_equal(dataset.test_labels, arrays[STEMS[3]])


def test_read_idx_big_endian_int32(tmp_path):
    values = np.array([[1, -2, 70000], [0, 5, -300000]], dtype=np.int32)
    path = tmp_path / "values.idx"
    path.write_bytes(idx_bytes(values, type_code=0x0C))
    loaded = read_idx(path)
    assert loaded.dtype == np.int32
    np.testing.assert_array_equal(loaded, values)


def test_read_idx_rejects_bad_magic(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(100))
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte: invalid IDX magic number 0x12340803"):
        read_idx(path)


def test_read_idx_rejects_unknown_type(tmp_path):
    path = tmp_path / "values.idx"
    path.write_bytes(bytes([0, 0, 0x07, 1]) + (2).to_bytes(4, "big") + bytes(2))
    with pytest.raises(IdxFormatError, match="magic number"):
        read_idx(path)


def test_read_idx_rejects_truncated_data(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.arange(10, dtype=np.uint8))[:-3])
    with pytest.raises(IdxFormatError, match=r"labels.idx: wrong size, 15 bytes .* needs 18"):
        read_idx(path)


def test_read_idx_rejects_extra_data(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.arange(10, dtype=np.uint8)) + b"\x00")
    with pytest.raises(IdxFormatError, match="wrong size"):
        read_idx(path)


def test_read_idx_rejects_short_header(tmp_path):
    path = tmp_path / "images.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + bytes(5))
    with pytest.raises(IdxFormatError, match="ends inside the header"):
        read_idx(path)


def test_read_idx_rejects_wrong_ndim(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.zeros((2, 3), dtype=np.uint8)))
    with pytest.raises(IdxFormatError, match="declares 2 dimensions, expected 1"):
        read_idx(path, expected_ndim=1)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    path = tmp_path / "labels.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(50, dtype=np.uint8)))[:-10])
    with pytest.raises(IdxFormatError, match=r"labels.idx.gz: invalid or truncated gzip"):
        read_idx(path)


# Fashion-MNIST files


def test_missing_file_explains_fix(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as raised:
        load_fashion_mnist(tmp_path)
    message = str(raised.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--data-dir" in message


def test_missing_folder_explains_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "absent")


def test_corrupt_file_named(tmp_path):
    write_dataset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(40)))
    with pytest.raises(IdxFormatError, match="train-images-idx3-ubyte.gz"):
        load_fashion_mnist(tmp_path)


def test_count_mismatch_rejected(tmp_path):
    write_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8), compress=True)
    with pytest.raises(IdxFormatError, match="240 images but .* 7 labels"):
        load_fashion_mnist(tmp_path)


def test_label_out_of_range_rejected(tmp_path):
    write_dataset(tmp_path, train_count=20)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(20, 10, dtype=np.uint8), compress=True)
    with pytest.raises(IdxFormatError, match="label 10 is outside 0..9"):
        load_fashion_mnist(tmp_path)


def test_wrong_image_size_rejected(tmp_path):
    write_dataset(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((60, 14, 14), dtype=np.uint8), compress=True)
    with pytest.raises(IdxFormatError, match="expected uint8 images of 28x28"):
        load_fashion_mnist(tmp_path)


def test_raw_file_used_when_gzip_absent(tmp_path):
    arrays = write_dataset(tmp_path, compress=True)
    raw_labels = np.full_like(arrays[STEMS[3]], 4)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", raw_labels, compress=False)
    np.testing.assert_array_equal(load_fashion_mnist(tmp_path).test_labels, raw_labels)


# Split and preprocessing


def test_split_deterministic_and_disjoint():
    train, validation = split_train_validation(100, 20, seed=5)
    again_train, again_validation = split_train_validation(100, 20, seed=5)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(validation, again_validation)
    assert len(validation) == 20
    assert len(np.intersect1d(train, validation)) == 0
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(100))


def test_split_depends_on_seed():
    _, first = split_train_validation(100, 20, seed=5)
    _, second = split_train_validation(100, 20, seed=6)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("size", [0, 100, 150])
def test_split_rejects_size(size):
    with pytest.raises(ValueError, match="validation size"):
        split_train_validation(100, size, seed=0)


def test_prepare_standardises_with_training_split(data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=0)
    assert data.train_x.shape == (200, 784)
    assert data.validation_x.shape == (40, 784)
    assert data.test_x.shape == (60, 784)
    assert data.train_x.dtype == torch.float32
    assert abs(data.train_x.mean().item()) < 1e-5
    assert data.train_x.std().item() == pytest.approx(1.0, rel=1e-4)


# Variants


def test_build_mlp_structure():
    model = build_mlp(get_variant("block_hadamard"), (32, 16), LayerOptions(rank=4, block_size=32),
                      in_features=784, num_classes=10)
    assert isinstance(model[0], geomalg_nn.BlockHadamardLinear)
    assert isinstance(model[2], geomalg_nn.BlockHadamardLinear)
    assert type(model[-1]) is nn.Linear
    assert model(torch.zeros(3, 784)).shape == (3, 10)


def test_build_mlp_rejects_no_hidden_layer():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        build_mlp(get_variant("dense"), (), LayerOptions(), in_features=784, num_classes=10)


def test_unknown_variant_rejected():
    with pytest.raises(ValueError, match="unknown variant 'sparse'"):
        get_variant("sparse")


def test_rotor_variant_registered():
    assert "rotor" in VARIANTS


@pytest.mark.skipif(hasattr(geomalg_nn, "RotorLinear"), reason="RotorLinear exists in this install")
def test_rotor_unavailable_message():
    with pytest.raises(ValueError, match="'rotor' is not available: geomalg.nn.RotorLinear"):
        get_variant("rotor")
    assert "rotor" not in available_variant_names()


@pytest.mark.skipif(not hasattr(geomalg_nn, "RotorLinear"), reason="RotorLinear missing in this install")
def test_rotor_in_default_variants():
    assert "rotor" in available_variant_names()


def test_registered_variant_trains(tmp_path, data_dir, monkeypatch):
    monkeypatch.setitem(VARIANTS, "tanh_dense", Variant(
        "tanh_dense", "test variant", lambda n_in, n_out, options: nn.Sequential(nn.Linear(n_in, n_out), nn.Tanh())))
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    results = run_experiment(tiny_config(variants=("tanh_dense",), epochs=1, learning_rates=(1e-2,)), data,
                             tmp_path / "out", progress=False)
    assert list(results["variants"]) == ["tanh_dense"]


# Training, selection and output folder


def test_nan_loss_names_variant_epoch_step(tmp_path, data_dir, monkeypatch):
    def nan_layer(n_in, n_out, options):
        layer = nn.Linear(n_in, n_out)
        with torch.no_grad():
            layer.weight[0, 0] = float("nan")
        return layer

    monkeypatch.setitem(VARIANTS, "broken", Variant("broken", "NaN weight", nan_layer))
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    with pytest.raises(NonFiniteLossError, match=r"'broken' \(learning rate 0.01\) at epoch 1, step 1") as raised:
        run_experiment(tiny_config(variants=("broken",), learning_rates=(1e-2,)), data, tmp_path / "out",
                       progress=False)
    assert raised.value.variant == "broken"
    assert raised.value.epoch == 1
    assert raised.value.step == 1


def test_nan_loss_later_step(tmp_path, data_dir, monkeypatch):
    class NanAfterSteps(nn.Linear):
        calls = 0

        def forward(self, x):
            if self.training:
                type(self).calls += 1
            output = super().forward(x)
            return output * float("nan") if type(self).calls == 9 else output

    monkeypatch.setitem(VARIANTS, "late", Variant("late", "NaN at step 9", lambda n, m, o: NanAfterSteps(n, m)))
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    # 200 training images at batch size 32 give 7 steps per epoch, so call 9 is epoch 2, step 2.
    with pytest.raises(NonFiniteLossError) as raised:
        run_experiment(tiny_config(variants=("late",), hidden_sizes=(16,), learning_rates=(1e-2,)), data,
                       tmp_path / "out", progress=False)
    assert (raised.value.epoch, raised.value.step) == (2, 2)


def test_selection_ignores_test_accuracy():
    histories = {
        1e-3: [{"validation_accuracy": 0.80, "test_accuracy": 0.95}],
        1e-2: [{"validation_accuracy": 0.85, "test_accuracy": 0.50}],
        1e-1: [{"validation_accuracy": 0.85, "test_accuracy": 0.99}],
    }
    assert select_learning_rate(histories) == 1e-2


def test_identical_runs_reproduce(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    config = tiny_config(variants=("low_rank",), learning_rates=(1e-2,))
    first = run_experiment(config, data, tmp_path / "a", progress=False)
    second = run_experiment(config, data, tmp_path / "b", progress=False)
    assert without_timing(first) == without_timing(second)


def test_resume_matches_uninterrupted_run(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    uninterrupted = run_experiment(tiny_config(epochs=2), data, tmp_path / "full", progress=False)
    run_experiment(tiny_config(epochs=1), data, tmp_path / "split", progress=False)
    resumed = run_experiment(tiny_config(epochs=2), data, tmp_path / "split", resume=True, progress=False)
    assert without_timing(resumed) == without_timing(uninterrupted)


def test_resume_skips_finished_runs(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    config = tiny_config(variants=("dense",), learning_rates=(1e-2,))
    first = run_experiment(config, data, tmp_path / "out", progress=False)
    second = run_experiment(config, data, tmp_path / "out", resume=True, progress=False)
    assert second["variants"]["dense"]["runs"] == first["variants"]["dense"]["runs"]


def test_existing_results_rejected(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    config = tiny_config(variants=("dense",), epochs=1, learning_rates=(1e-2,))
    out = tmp_path / "out"
    run_experiment(config, data, out, progress=False)
    checkpoint = out / "checkpoints" / "dense" / "lr_0.01.pt"
    before = checkpoint.read_bytes()
    with pytest.raises(OutputExistsError, match="--resume .* --overwrite"):
        run_experiment(config, data, out, progress=False)
    assert checkpoint.read_bytes() == before


def test_overwrite_replaces_results(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    out = tmp_path / "out"
    run_experiment(tiny_config(variants=("dense",), epochs=1, learning_rates=(1e-2,)), data, out, progress=False)
    keep = out / "notes.txt"
    keep.write_text("kept")
    run_experiment(tiny_config(variants=("low_rank",), epochs=1, learning_rates=(1e-2,)), data, out,
                   overwrite=True, progress=False)
    assert not (out / "checkpoints" / "dense").exists()
    assert (out / "checkpoints" / "low_rank" / "lr_0.01.pt").is_file()
    assert keep.read_text() == "kept"


def test_resume_rejects_changed_config(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    out = tmp_path / "out"
    run_experiment(tiny_config(variants=("dense",), epochs=1), data, out, progress=False)
    with pytest.raises(ValueError, match=r"hidden_sizes is \[64\] but the stored runs used \[32, 16\]"):
        run_experiment(tiny_config(variants=("dense",), hidden_sizes=(64,)), data, out, resume=True, progress=False)


def test_invalid_layer_settings_fail_before_training(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="rank must be below"):
        run_experiment(tiny_config(hidden_sizes=(8,), rank=8), data, out, progress=False)
    assert not out.exists()


def test_resume_and_overwrite_exclusive(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    with pytest.raises(ValueError, match="exclude each other"):
        run_experiment(tiny_config(), data, tmp_path / "out", resume=True, overwrite=True, progress=False)


# Command line


def test_cli_end_to_end(tmp_path, data_dir, capsys):
    out = tmp_path / "out"
    argv = ["--data-dir", str(data_dir), "--out", str(out), "--epochs", "3", "--hidden-sizes", "32", "16",
            "--batch-size", "32", "--learning-rates", "0.003", "0.01", "--validation-size", "40",
            "--rank", "4", "--block-size", "32", "--threads", "1", "--no-progress", "--log-level", "WARNING"]
    results = main(argv)

    printed = capsys.readouterr().out
    assert "Test accuracy (%) per epoch" in printed
    assert "block_hadamard" in printed
    stored = json.loads((out / "results.json").read_text())
    assert stored == json.loads(json.dumps(results))
    with (out / "results.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    variant_count = len(stored["variants"])
    assert variant_count >= 3
    assert len(rows) == variant_count * 2 * 3
    assert sum(row["selected"] == "True" for row in rows) == variant_count * 3
    assert (out / "fmnist_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The synthetic classes are separable, so every variant must beat chance (10 %) clearly.
    for name, entry in stored["variants"].items():
        assert entry["selected_learning_rate"] in (0.003, 0.01)
        final = entry["runs"][f"{entry['selected_learning_rate']:g}"][-1]
        assert final["test_accuracy"] > 0.6, name


def test_cli_rejects_unknown_variant(capsys):
    with pytest.raises(SystemExit):
        main(["--variants", "sparse"])
    assert "unknown variant 'sparse'" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--learning-rates", "nan"), ("--batch-size", "x"),
                                         ("--seed", "-1")])
def test_cli_rejects_bad_numbers(flag, value, capsys):
    with pytest.raises(SystemExit):
        main([flag, value])
    assert flag in capsys.readouterr().err


def test_module_reports_missing_data(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "geomalg.experiments.fmnist", "--data-dir", str(tmp_path), "--out",
         str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert completed.returncode == 1
    assert "apt-get install dataset-fashion-mnist" in completed.stderr
    assert "Traceback" not in completed.stderr


# Rotor settings


@pytest.mark.skipif(not hasattr(geomalg_nn, "RotorGadget"), reason="RotorGadget missing in this install")
def test_rotor_options_reach_the_layers():
    options = LayerOptions(chunk_size=8, gadget_width=2, gadget_depth=1, feature_scales=True)
    rotor = build_mlp(get_variant("rotor"), (32, 16), options, in_features=784, num_classes=10)
    assert [rotor[i].chunk_size for i in (0, 2)] == [8, 8]
    assert rotor[0].input_scale is not None and rotor[0].input_scale.shape == (784,)

    gadget = build_mlp(get_variant("rotor_gadget"), (32, 16), options, in_features=784, num_classes=10)
    assert (gadget[0].width, gadget[0].depth) == (2, 1)
    assert gadget[0].stages[0][0].chunk_size == 8
    assert gadget[0].output_scale.shape == (32,)
    assert gadget(torch.zeros(3, 784)).shape == (3, 10)


@pytest.mark.skipif(not hasattr(geomalg_nn, "RotorGadget"), reason="RotorGadget missing in this install")
def test_cli_rotor_settings_are_recorded(tmp_path, data_dir):
    out = tmp_path / "out"
    results = main(["--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--hidden-sizes", "16",
                    "--batch-size", "32", "--learning-rates", "0.01", "--validation-size", "40",
                    "--variants", "rotor_gadget", "--chunk-size", "8", "--gadget-width", "2",
                    "--gadget-depth", "1", "--feature-scales", "--threads", "1", "--no-progress",
                    "--log-level", "WARNING"])
    config = json.loads((out / "config.json").read_text())
    assert (config["chunk_size"], config["gadget_width"], config["gadget_depth"], config["feature_scales"]) == \
        (8, 2, 1, True)
    expected = build_mlp(get_variant("rotor_gadget"), (16,), LayerOptions(chunk_size=8, gadget_width=2,
                                                                          gadget_depth=1, feature_scales=True),
                         in_features=784, num_classes=10)
    assert results["variants"]["rotor_gadget"]["hidden_params"] == hidden_parameter_count(expected)

    with pytest.raises(ValueError, match="chunk_size is 16 but the stored runs used 8"):
        main(["--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--hidden-sizes", "16",
              "--batch-size", "32", "--learning-rates", "0.01", "--validation-size", "40",
              "--variants", "rotor_gadget", "--chunk-size", "16", "--gadget-width", "2",
              "--gadget-depth", "1", "--feature-scales", "--resume", "--no-progress"])


def test_resume_accepts_config_written_before_rotor_settings(tmp_path, data_dir):
    data = prepare_data(load_fashion_mnist(data_dir), validation_size=40, seed=3)
    out = tmp_path / "out"
    run_experiment(tiny_config(variants=("dense",), epochs=1), data, out, progress=False)
    config_path = out / "config.json"
    stored = json.loads(config_path.read_text())
    for key in ("chunk_size", "gadget_width", "gadget_depth", "feature_scales"):
        del stored[key]
    config_path.write_text(json.dumps(stored))
    resumed = run_experiment(tiny_config(variants=("dense",), epochs=2), data, out, resume=True, progress=False)
    assert len(resumed["variants"]["dense"]["runs"]["0.003"]) == 2
