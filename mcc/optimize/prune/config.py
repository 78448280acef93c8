"""PruneConfig (one frozen options object) and the pruning error."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import MccError

SCHEDULES = ("oneshot", "linear", "agp", "lottery", "annealing", "auto_compress", "amc")
BUDGETS = ("macs", "flash")


class PruneError(MccError):
    """Bad pruning input: sparsity, method, schedule, a layer that cannot be pruned."""


@dataclass(frozen=True)
class PruneConfig:
    method: str = "l1"                 # criterion name (mcc.optimize.prune.METHODS)
    sparsity: float = 0.5              # fraction of channels (structured) or weights (unstructured)
    schedule: str = "oneshot"          # see SCHEDULES
    epochs: int = 1                    # fine-tuning epochs (per round for lottery)
    batch_size: int = 64
    structured: bool | None = None     # None: the criterion's default
    layers: tuple[str, ...] | None = None   # prune only these layers (by name); None: every prunable one
    steps: int = 8                     # pruning steps of the gradual schedules (linear, agp)
    rounds: int = 3                    # lottery rounds
    reg_epochs: int = 1                # slim / admm / movement: epochs of the training-time phase
    slim_penalty: float = 1e-3         # slim: L1 weight on BatchNorm gammas (proximal step)
    admm_rho: float = 1e-2             # admm: penalty weight
    budget: str = "macs"               # annealing / auto_compress / amc: "macs" or "flash"
    budget_ratio: float | None = None  # kept fraction of the budget; None: as uniform pruning at `sparsity`
    search_evals: int = 24             # model evaluations of a search
    sensitivity_levels: tuple[float, ...] = (0.25, 0.5, 0.75)
    data_samples: int = 512            # examples for activation criteria, search and sensitivity
    seed: int = 0

    def __post_init__(self):
        from .criteria import METHODS

        if not isinstance(self.sparsity, (int, float)) or not 0.0 <= float(self.sparsity) < 1.0:
            raise PruneError(f"sparsity must be in [0, 1), got {self.sparsity!r}")
        if self.method not in METHODS:
            raise PruneError(f"unknown pruning method {self.method!r}; valid: {', '.join(METHODS)}")
        if self.schedule not in SCHEDULES:
            raise PruneError(f"unknown pruning schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if self.budget not in BUDGETS:
            raise PruneError(f"unknown budget {self.budget!r}; valid: {', '.join(BUDGETS)}")
        if self.budget_ratio is not None and not 0.0 < self.budget_ratio <= 1.0:
            raise PruneError(f"budget_ratio must be in (0, 1], got {self.budget_ratio!r}")
        if self.epochs < 0 or self.batch_size < 1 or self.steps < 1 or self.rounds < 1:
            raise PruneError("epochs must be >= 0 and batch_size, steps, rounds >= 1")
        crit = METHODS[self.method]
        if self.structured is True and not crit.channel:
            raise PruneError(f"method {self.method!r} ranks single weights: it cannot prune structurally")
        if self.structured is False and not crit.element:
            raise PruneError(f"method {self.method!r} ranks channels: it only prunes structurally")

    @property
    def is_structured(self) -> bool:
        from .criteria import METHODS

        return METHODS[self.method].structured if self.structured is None else bool(self.structured)
