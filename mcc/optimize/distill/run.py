"""File-level distillation (what ``mcc distill`` runs): read the models and data, distill into a
copy of the student, measure, save."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputDataError
from .config import DistillConfig, DistillError
from .trainer import DistillTrainer, check_compatible, clone_model


def read_labelled(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``x`` (float32) and ``y`` of an .npz."""
    try:
        with np.load(path, allow_pickle=False) as d:
            if "x" not in d.files or "y" not in d.files:
                raise InputDataError(f"{path}: needs an .npz with arrays x and y (found: {', '.join(d.files)})")
            return d["x"].astype(np.float32), np.asarray(d["y"]).reshape(len(d["y"]), -1)[:, 0].astype(np.int64)
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except (ValueError, OSError) as e:
        raise InputDataError(f"{path}: not a readable .npz ({e})") from None


def fit_input(model, x: np.ndarray, what: str) -> np.ndarray:
    """``x`` reshaped to the model's input (N, *shape); a clear error when the sizes differ."""
    shape = tuple(model.inputs[0].shape[1:])
    if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise InputDataError(f"{what}: x has shape {x.shape}; the model takes (N, {', '.join(map(str, shape))})")
    return x.reshape((len(x),) + shape)


def accuracy(model, x, y) -> float:
    return float(np.mean(model.predict(x, batch_size=256, verbose=0).argmax(1) == y))


@dataclass(frozen=True)
class DistillResult:
    output: Path
    n_train: int
    epochs: int
    teacher_acc: float | None       # on the eval data, when given
    student_acc_before: float | None
    student_acc_after: float | None
    final_loss: float


def check_output(path: str | Path) -> Path:
    out = Path(path)
    if out.suffix.lower() not in (".keras", ".h5"):
        raise DistillError(f"{out}: the distilled student is saved as a Keras model; name it *.keras")
    return out


def distill_files(teacher: str | Path | None, student: str | Path, train: str | Path, config: DistillConfig,
                  output: str | Path, *, epochs: int = 1, batch_size: int = 64, eval_path: str | Path | None = None,
                  progress: bool = True) -> DistillResult:
    from ...frontend.keras import read_model
    from ..progress import RichProgress

    out = check_output(output)
    s_model = read_model(student)
    t_model = read_model(teacher) if teacher is not None else None
    if t_model is not None:
        check_compatible(t_model, s_model)
    x, y = read_labelled(train)
    x = fit_input(s_model, x, str(train))
    xe = ye = None
    if eval_path is not None:
        xe, ye = read_labelled(eval_path)
        xe = fit_input(s_model, xe, str(eval_path))
    trainer = DistillTrainer(t_model, config)
    s = clone_model(s_model)
    cbs = [RichProgress(f"distill ({config.kind}, {config.scheme})", len(x), batch_size, epochs)] if progress else []
    hist = trainer.fit(s, x, y, epochs=epochs, batch_size=batch_size, callbacks=cbs)
    out.parent.mkdir(parents=True, exist_ok=True)
    s.save(out)
    acc = (lambda m: accuracy(m, xe, ye)) if xe is not None else (lambda m: None)
    return DistillResult(out, len(x), epochs, acc(t_model) if t_model is not None else None, acc(s_model), acc(s),
                         float(hist.history["loss"][-1]))
