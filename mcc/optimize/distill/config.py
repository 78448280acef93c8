"""The frozen configuration of knowledge distillation and its validation."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import MccError

KINDS = ("response", "feature", "relation")
SCHEMES = ("offline", "online", "self")
OUTPUTS = ("auto", "logits", "probs")


class DistillError(MccError):
    """Bad distillation input: models, layer names or configuration."""


@dataclass(frozen=True)
class DistillConfig:
    """How a student learns from a teacher.

    The loss of every kind is ``(1 - alpha) * hard + alpha * D`` where ``hard`` is the sparse
    categorical cross-entropy of the student on the labels and ``D`` is the distillation term:

    - ``response`` (Hinton et al.): ``temperature**2 * KL(softmax(t / T) || softmax(s / T))``;
    - ``feature`` (FitNets hints): the mean over ``hints`` of the MSE between a learned adapter
      (1x1 convolution for feature maps, dense for vectors) of the student layer's output and the
      teacher layer's output;
    - ``relation`` (RKD, Park et al.): ``distance_weight * RKD-distance + angle_weight * RKD-angle``
      between the sample embeddings of the ``hints`` layers (the model outputs when no hints).

    Schemes: ``offline`` (frozen teacher), ``online`` (mutual learning: teacher and student are
    trained together, each with its labels and the other as its teacher), ``self`` (no external
    teacher: auxiliary classifiers on the student's shallower ``heads`` layers learn from its own
    final output, which in turn trains the shared layers).

    ``hints`` is a tuple of ``(teacher_layer, student_layer)`` name pairs (``self``: ignored).
    ``teacher_outputs`` / ``student_outputs``: whether a model's output is ``logits`` or ``probs``
    (softmax; distilled through ``log p``, which equals the logits up to a per-sample constant and
    so gives the same softened distribution); ``auto`` reads the model's last activation.
    """

    kind: str = "response"
    scheme: str = "offline"
    temperature: float = 4.0
    alpha: float = 0.9
    hints: tuple[tuple[str, str], ...] = ()
    heads: tuple[str, ...] = ()          # self-distillation: layers that get auxiliary classifiers
    distance_weight: float = 1.0         # relation: RKD distance term weight
    angle_weight: float = 2.0            # relation: RKD angle term weight
    learning_rate: float = 1e-3
    teacher_outputs: str = "auto"
    student_outputs: str = "auto"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise DistillError(f"unknown distillation kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.scheme not in SCHEMES:
            raise DistillError(f"unknown distillation scheme {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        if not self.temperature > 0:
            raise DistillError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.alpha <= 1.0:
            raise DistillError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.learning_rate <= 0:
            raise DistillError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.distance_weight < 0 or self.angle_weight < 0:
            raise DistillError("relation weights must be >= 0")
        for what in (self.teacher_outputs, self.student_outputs):
            if what not in OUTPUTS:
                raise DistillError(f"model outputs {what!r}: choose one of {', '.join(OUTPUTS)}")
        hints = tuple(tuple(h) for h in self.hints)
        if any(len(h) != 2 or not all(isinstance(n, str) for n in h) for h in hints):
            raise DistillError("hints are (teacher_layer, student_layer) name pairs")
        object.__setattr__(self, "hints", hints)
        object.__setattr__(self, "heads", tuple(self.heads))
        if self.kind == "feature" and self.scheme != "self" and not hints:
            raise DistillError("feature distillation needs hints: (teacher_layer, student_layer) name pairs")

    @staticmethod
    def parse_hints(text: str) -> tuple[tuple[str, str], ...]:
        """``"t1:s1,t2:s2"`` -> ``(("t1", "s1"), ("t2", "s2"))`` (the CLI's --hint syntax)."""
        pairs = []
        for item in filter(None, (p.strip() for p in text.split(","))):
            if item.count(":") != 1:
                raise DistillError(f"hint {item!r}: expected TEACHER_LAYER:STUDENT_LAYER")
            t, s = item.split(":")
            pairs.append((t.strip(), s.strip()))
        return tuple(pairs)
