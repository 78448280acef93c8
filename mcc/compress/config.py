"""The ``compress.toml`` of ``mcc compress``: parsed into frozen dataclasses and validated (unknown
sections or keys, wrong types and bad values are one-line errors naming them).

    [data]                      # relative paths are relative to the TOML file
    train = "train.npz"         # x, y: fine-tuning, distillation, default calibration
    validation = "val.npz"      # x, y (optional): accuracy per stage in the summary
    [prune]                     # optional stage
    method = "l1"  sparsity = 0.5  schedule = "agp"  epochs = 2  batch_size = 64
    [distill]                   # optional stage (also the loss of the prune stage's fine-tuning)
    teacher = "self"            # "self": the input model teaches; or a path to a Keras model
    kind = "response"  scheme = "offline"  temperature = 4.0  alpha = 0.9  epochs = 1
    [quantize]                  # optional (implied with defaults by [compile])
    calib = "train"  n_calib = 500  method = "minmax"  per_channel = true  symmetric = false  io = "float"
    [compile]                   # optional stage
    target = "host"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import MccError
from ..options import CALIBRATION_METHODS


class CompressConfigError(MccError):
    pass


@dataclass(frozen=True)
class DataSection:
    train: str | None = None
    validation: str | None = None


@dataclass(frozen=True)
class PruneSection:
    method: str = "l1"
    sparsity: float = 0.5
    schedule: str = "oneshot"
    epochs: int = 1
    batch_size: int = 64


@dataclass(frozen=True)
class DistillSection:
    teacher: str = "self"
    kind: str = "response"
    scheme: str = "offline"
    temperature: float = 4.0
    alpha: float = 0.9
    hints: list = field(default_factory=list)
    heads: list = field(default_factory=list)
    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class QuantizeSection:
    calib: str = "train"        # "train": the first n_calib training inputs; or an .npy/.npz path
    n_calib: int = 500
    method: str = "minmax"
    per_channel: bool = True
    symmetric: bool = False
    io: str = "float"


@dataclass(frozen=True)
class CompileSection:
    target: str = "host"
    name: str = "model"


SECTIONS = {"data": DataSection, "prune": PruneSection, "distill": DistillSection,
            "quantize": QuantizeSection, "compile": CompileSection}


@dataclass(frozen=True)
class CompressConfig:
    data: DataSection = DataSection()
    prune: PruneSection | None = None
    distill: DistillSection | None = None
    quantize: QuantizeSection | None = None
    compile: CompileSection | None = None
    base: Path = Path(".")      # directory of the TOML file (relative paths)

    def path(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.base / q


def _typed(section: str, key: str, value, default):
    want = type(default) if default is not None else str
    if isinstance(default, list):
        want = list
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise CompressConfigError(f"[{section}] {key} = {value!r}: expected {want.__name__}")
    return value


def _section(name: str, table) -> object:
    cls = SECTIONS[name]
    if not isinstance(table, dict):
        raise CompressConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise CompressConfigError(f"[{name}] has unknown key(s) {', '.join(unknown)} "
                                  f"(known: {', '.join(known)})")
    defaults = cls()
    kw = {k: _typed(name, k, v, getattr(defaults, k)) for k, v in table.items()}
    return cls(**kw)


def _check(cfg: CompressConfig) -> None:
    if cfg.prune is not None:
        p = cfg.prune
        if not 0.0 <= p.sparsity < 1.0:
            raise CompressConfigError(f"[prune] sparsity = {p.sparsity}: must be in [0, 1)")
        if p.epochs < 0 or p.batch_size < 1:
            raise CompressConfigError("[prune] epochs must be >= 0 and batch_size >= 1")
    if cfg.distill is not None:
        d = cfg.distill
        if d.epochs < 0 or d.batch_size < 1:
            raise CompressConfigError("[distill] epochs must be >= 0 and batch_size >= 1")
        if d.scheme == "self" and d.teacher != "self":
            raise CompressConfigError("[distill] scheme = \"self\" distills the model into itself; "
                                      "leave teacher out (or \"self\")")
        to_config_distill(d)  # kind, scheme, temperature ... validated by DistillConfig
    if cfg.quantize is not None:
        q = cfg.quantize
        if q.method not in CALIBRATION_METHODS:
            raise CompressConfigError(f"[quantize] method = {q.method!r}: choose one of {', '.join(CALIBRATION_METHODS)}")
        if q.io not in ("float", "int8"):
            raise CompressConfigError(f"[quantize] io = {q.io!r}: choose float or int8")
        if q.n_calib < 1:
            raise CompressConfigError("[quantize] n_calib must be >= 1")
    needs_train = cfg.prune is not None or cfg.distill is not None or \
        ((cfg.quantize or cfg.compile) is not None and (cfg.quantize or QuantizeSection()).calib == "train")
    if needs_train and cfg.data.train is None:
        raise CompressConfigError("[data] train = \"data.npz\" is needed (fine-tuning, distillation or calibration)")


def to_config_distill(d: DistillSection):
    from ..optimize.distill import DistillConfig, DistillError

    try:
        return DistillConfig(kind=d.kind, scheme=d.scheme, temperature=d.temperature, alpha=d.alpha,
                             hints=tuple(tuple(h) for h in d.hints), heads=tuple(d.heads),
                             learning_rate=d.learning_rate)
    except DistillError as e:
        raise CompressConfigError(f"[distill] {e}") from None


def parse_config(text: str, base: Path = Path(".")) -> CompressConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CompressConfigError(f"not valid TOML: {e}") from None
    unknown = sorted(set(doc) - set(SECTIONS))
    if unknown:
        raise CompressConfigError(f"unknown section(s) {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    kw = {name: _section(name, table) for name, table in doc.items()}
    cfg = CompressConfig(**kw, base=base)
    _check(cfg)
    return cfg


def load_config(path: str | Path) -> CompressConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise CompressConfigError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CompressConfigError(f"{p}: cannot read ({e})") from None
    try:
        return parse_config(text, p.parent)
    except CompressConfigError as e:
        raise CompressConfigError(f"{p}: {e}") from None
