"""Static memory planning: tensor lifetimes and arena offsets."""

from .arena import ArenaPlan, Buffer, plan_arena

__all__ = ["ArenaPlan", "Buffer", "plan_arena"]
