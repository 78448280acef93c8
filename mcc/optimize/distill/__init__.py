"""Knowledge distillation: losses, configuration and trainers (see ``trainer.py``)."""

from .config import KINDS, SCHEMES, DistillConfig, DistillError
from .losses import (hard_loss, hint_loss, rkd_angle_loss, rkd_distance_loss, relation_loss, response_loss,
                     soft_loss)
from .trainer import DistillModel, DistillTrainer, check_compatible, clone_model, distill

__all__ = ["KINDS", "SCHEMES", "DistillConfig", "DistillError", "DistillModel", "DistillTrainer",
           "check_compatible", "clone_model", "distill", "hard_loss", "hint_loss", "relation_loss",
           "response_loss", "rkd_angle_loss", "rkd_distance_loss", "soft_loss"]
