"""Fashion-MNIST files: location, validation and tensors for training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from geomalg.experiments.data import IdxFormatError, read_idx

__all__ = [
    "DEFAULT_DATA_DIR",
    "FashionMNIST",
    "NUM_CLASSES",
    "PreparedData",
    "load_fashion_mnist",
    "prepare_data",
    "split_train_validation",
]

# Installed by the Debian/Ubuntu package dataset-fashion-mnist.
DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SIDE = 28
NUM_CLASSES = 10
_FILE_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_HOW_TO_GET = (
    "install them with 'apt-get install dataset-fashion-mnist' (files land in "
    f"{DEFAULT_DATA_DIR}), or pass --data-dir with a folder that contains "
    + ", ".join(f"{stem}[.gz]" for stem in _FILE_STEMS.values())
)


@dataclasses.dataclass(frozen=True)
class FashionMNIST:
    """The four Fashion-MNIST arrays: images ``(N, 28, 28)`` uint8, labels ``(N,)`` uint8."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _find_file(data_dir: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        candidate = data_dir / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"Fashion-MNIST file {stem}[.gz] not found in {data_dir}; {_HOW_TO_GET}")


def _load_pair(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find_file(data_dir, _FILE_STEMS[f"{split}_images"])
    labels_path = _find_file(data_dir, _FILE_STEMS[f"{split}_labels"])
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)

    if images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise IdxFormatError(f"{images_path}: expected uint8 images of {IMAGE_SIDE}x{IMAGE_SIDE}, "
                             f"got {images.dtype} of shape {images.shape[1:]}")
    if labels.dtype != np.uint8:
        raise IdxFormatError(f"{labels_path}: expected uint8 labels, got {labels.dtype}")
    if len(images) != len(labels):
        raise IdxFormatError(f"{images_path} has {len(images)} images but {labels_path} "
                             f"has {len(labels)} labels")
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise IdxFormatError(f"{labels_path}: label {labels.max()} is outside 0..{NUM_CLASSES - 1}")
    return images, labels


def load_fashion_mnist(data_dir: str | Path | None = None) -> FashionMNIST:
    """Load and validate the four Fashion-MNIST IDX files, raw or gzipped.

    Parameters
    ----------
    data_dir : str or pathlib.Path, optional
        Folder with the files; defaults to :data:`DEFAULT_DATA_DIR`.

    Raises
    ------
    FileNotFoundError
        If a file is missing, with instructions to get it.
    IdxFormatError
        If a file is corrupt or its contents do not fit Fashion-MNIST.  The
        message names the file.
    """
    folder = DEFAULT_DATA_DIR if data_dir is None else Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"Fashion-MNIST folder {folder} not found; {_HOW_TO_GET}")
    train_images, train_labels = _load_pair(folder, "train")
    test_images, test_labels = _load_pair(folder, "test")
    return FashionMNIST(train_images, train_labels, test_images, test_labels)


def split_train_validation(count: int, validation_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(count)`` into training and validation indices by a seeded permutation.

    Raises
    ------
    ValueError
        If ``validation_size`` is not in ``[1, count - 1]``.
    """
    if not 1 <= validation_size < count:
        raise ValueError(f"validation size must be between 1 and {count - 1} "
                         f"(training set has {count} images), got {validation_size}")
    permutation = np.random.default_rng(seed).permutation(count)
    return np.sort(permutation[validation_size:]), np.sort(permutation[:validation_size])


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """Flattened, standardised float32 images ``(N, 784)`` and int64 labels ``(N,)`` per split."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    validation_x: torch.Tensor
    validation_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def prepare_data(dataset: FashionMNIST, validation_size: int, seed: int) -> PreparedData:
    """Carve the validation split from the training set and standardise every split.

    Pixels are scaled to [0, 1], then shifted and scaled by the mean and
    standard deviation of the training split alone, so neither validation
    nor test data influence training.
    """
    train_index, validation_index = split_train_validation(len(dataset.train_labels), validation_size, seed)

    def flatten(images: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)

    all_train_x = flatten(dataset.train_images)
    all_train_y = torch.from_numpy(dataset.train_labels.astype(np.int64))
    train_x = all_train_x[train_index]
    mean = train_x.mean()
    std = train_x.std().clamp_min(1e-6)

    def standardise(x: torch.Tensor) -> torch.Tensor:
        return (x - mean) / std

    return PreparedData(
        train_x=standardise(train_x),
        train_y=all_train_y[train_index],
        validation_x=standardise(all_train_x[validation_index]),
        validation_y=all_train_y[validation_index],
        test_x=standardise(flatten(dataset.test_images)),
        test_y=torch.from_numpy(dataset.test_labels.astype(np.int64)),
    )
