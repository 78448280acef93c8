"""Calibration (representative) data: read, check, and cut into batches.

Accepted forms:
- a path to ``.npy`` (an unlabelled array (N, *input_shape)) or ``.npz`` (the array under ``x``);
- a numpy array (N, *input_shape);
- an iterable or generator yielding arrays, each either one sample (*input_shape) or a batch
  (n, *input_shape); a one-element list/tuple (TFLite's representative_dataset style) is unwrapped.

``input_shape`` is the model input's shape without the batch axis; a leading batch axis of 1 in
the sample is accepted too. The data must be floating point and finite, and not empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputDataError, MccError


class CalibrationDataError(InputDataError):
    """Calibration data of the wrong form, shape or dtype, empty, or holding NaN/inf."""


def _check_array(x, sample_shape: tuple, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == object or not np.issubdtype(x.dtype, np.floating):
        raise CalibrationDataError(
            f"{what} has dtype {x.dtype}; calibration data must be floating point (the float "
            "model's input values); cast it with .astype(np.float32)")
    shape = tuple(sample_shape)
    if x.shape == shape or x.shape == (1,) + shape:
        x = x.reshape((1,) + shape)
    elif x.shape[1:] == shape:
        pass
    elif x.ndim == len(shape) + 2 and x.shape[1] == 1 and x.shape[2:] == shape:
        x = x.reshape((x.shape[0],) + shape)
    else:
        raise CalibrationDataError(
            f"{what} has shape {x.shape}; expected (N, {', '.join(map(str, shape))}) for a model input "
            f"of shape (1, {', '.join(map(str, shape))})")
    if not np.all(np.isfinite(x)):
        raise CalibrationDataError(f"{what} contains NaN or inf values")
    return x.astype(np.float32, copy=False)


def _read_file(p: Path):
    if not p.is_file():
        raise CalibrationDataError(f"{p}: no such calibration data file")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if "x" not in z.files:
                    raise CalibrationDataError(f"{p}: the .npz file has no array 'x' (found: "
                                               f"{', '.join(z.files) or 'nothing'})")
                return z["x"]
    except MccError:
        raise
    except Exception as e:
        raise CalibrationDataError(f"{p}: cannot read calibration data ({type(e).__name__}: {e})") from None
    raise CalibrationDataError(f"{p}: calibration data must be a .npy or .npz file")


def load_calibration_data(data, input_shape: tuple) -> np.ndarray:
    """All calibration samples as one float32 array (N, *input_shape[1:]), checked."""
    sample_shape = tuple(input_shape[1:])
    if isinstance(data, (str, Path)):
        return _nonempty(_check_array(_read_file(Path(data)), sample_shape, str(data)), str(data))
    if isinstance(data, np.ndarray):
        return _nonempty(_check_array(data, sample_shape, "the calibration array"), "the calibration array")
    if isinstance(data, dict) or not hasattr(data, "__iter__"):
        raise CalibrationDataError(f"calibration data must be a .npy/.npz path, an array or an iterable "
                                   f"of arrays, not {type(data).__name__}")
    parts = []
    for k, item in enumerate(data):
        if isinstance(item, (list, tuple)):
            if len(item) != 1:
                raise CalibrationDataError(f"calibration item {k} holds {len(item)} arrays; the model "
                                           "has one input")
            item = item[0]
        parts.append(_check_array(item, sample_shape, f"calibration item {k}"))
    if not parts:
        raise CalibrationDataError("the calibration set is empty")
    return _nonempty(np.concatenate(parts), "the calibration set")


def _nonempty(x: np.ndarray, what: str) -> np.ndarray:
    if x.shape[0] == 0:
        raise CalibrationDataError(f"{what} is empty (0 samples)")
    return x


def batches(x: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for i in range(0, x.shape[0], batch_size):
        yield x[i:i + batch_size]
