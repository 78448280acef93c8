"""Where mcc's non-Python assets live (C kernel library, harnesses, templates, target files)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
TEMPLATES = ROOT / "templates"
TARGETS = ROOT / "targets"
EXAMPLES = ROOT / "examples"
