"""Flash and SRAM of a compiled model on a Cortex-M board, predicted to the byte of the linker map.

How (and what is compiled): the sizes of *code* (the model's call sequence and per-operator
constants in mcc_model.o, the kernels, the harness, newlib's memcpy/memset) are not computable from
Python, so they are measured once by compiling a **skeleton**: the generated project with every
weight array shrunk to one element and the arena to 16 bytes, built with arm-none-eabi-gcc for the
board and cached (keyed by the skeleton's sources, the board and the compiler version;
``$MCC_CACHE_DIR/plan``). The skeleton does not depend on the weight values, widths' bytes or
the arena size, so one build serves every width assignment whose generated code is the same.

The model's own data is then put back by **replaying the linker's placement**: every input
section of the skeleton's map, in the linker's order, with its alignment (read from the objects
with arm-none-eabi-objdump), its size replaced for the weight arrays (element count x C type size
of each ``mcc_w_*`` array the codegen declares for the real graph: ``packing.packed_size`` bytes
once weights are stored packed) and for the arena (the Python plan's ``arena_bytes``), and the
end-of-section ``ALIGN`` of the linker script. The replayed output sections give flash (.text,
.ARM.extab, .ARM.exidx, .init_array, .data) and SRAM (.data, .bss, .stack) exactly as
``mcc.sim.qemu.firmware_size`` reads them from a real build's map (tested on the MLPerf models x
the QEMU boards).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import MccError
from ..sim.qemu import ARM_GCC, _cache_dir, _require_tools, build_firmware

FLASH_SECTIONS = (".text", ".ARM.extab", ".ARM.exidx", ".init_array", ".data")
SRAM_SECTIONS = (".data", ".bss", ".stack")
ALL_SECTIONS = tuple(dict.fromkeys(FLASH_SECTIONS + SRAM_SECTIONS))
_DECL = re.compile(r"^(const\s+(\w+)\s+(mcc_w_\w+))\[(\d+)\]", re.M)
_EXTERN = re.compile(r"^(extern\s+const\s+(\w+)\s+(mcc_w_\w+))\[(\d+)\];", re.M)
_ARENA = re.compile(r"^#define MCC_ARENA_SIZE (\d+)", re.M)
C_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "float": 4,
           "int64_t": 8}
SKELETON_ARENA = 16
_SECTION = re.compile(r"^(\.[\w.]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)")
_INPUT = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S.*))?$")
_ALIGN_STMT = re.compile(r"^\s+0x[0-9a-f]+\s+\. = ALIGN \((0x[0-9a-f]+|\d+)\)")


@dataclass(frozen=True)
class SizePrediction:
    board: str
    flash: int
    sram: int
    sections: dict[str, int]       # replayed output section sizes
    weight_arrays: dict[str, int]  # mcc_w_* symbol -> bytes


def weight_arrays(weights_c: str) -> dict[str, int]:
    """{symbol: bytes} of the weight arrays a generated mcc_weights.c defines."""
    out = {}
    for m in _DECL.finditer(weights_c):
        ctype, name, count = m.group(2), m.group(3), int(m.group(4))
        if ctype not in C_SIZES:
            raise MccError(f"mcc_weights.c: unknown element type {ctype} of {name}")
        out[name] = count * C_SIZES[ctype]
    return out


def skeleton_files(files: dict[str, str]) -> dict[str, str]:
    """The generated project with every weight array one element long and a 16-byte arena."""
    sk = dict(files)
    wc = files["mcc_weights.c"]
    sk["mcc_weights.c"] = re.sub(r"^(const\s+\w+\s+mcc_w_\w+)\[\d+\](.*?)= \{.*?\};", r"\1[1]\2= {0};",
                                 wc, flags=re.M | re.S)
    sk["mcc_weights.h"] = _EXTERN.sub(r"\1[1];", files["mcc_weights.h"])
    sk["mcc_model.h"] = _ARENA.sub(f"#define MCC_ARENA_SIZE {SKELETON_ARENA}", files["mcc_model.h"])
    return sk


def _compiler_version() -> str:
    _require_tools(ARM_GCC)
    return subprocess.run([ARM_GCC, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def skeleton_dir(files: dict[str, str], board: str) -> Path:
    """Build (once, cached) the skeleton of ``files`` for ``board``; returns its directory."""
    sk = skeleton_files(files)
    h = hashlib.sha256()
    for k in sorted(sk):
        if k.endswith(".c") or k.endswith(".h") or k in ("Makefile",) or k.endswith(".ld"):
            h.update(k.encode() + b"\0" + sk[k].encode() + b"\0")
    h.update(board.encode() + _compiler_version().encode())
    d = _cache_dir() / "plan" / h.hexdigest()[:20]
    if (d / "layout.json").exists():
        return d
    tmp = d.with_name(d.name + ".tmp")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    for rel, text in sk.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    build_firmware(tmp)
    layout = parse_layout(tmp / "build" / "firmware.map", tmp)
    (tmp / "layout.json").write_text(json.dumps(layout))
    if d.exists():
        import shutil
        shutil.rmtree(d)
    tmp.rename(d)
    return d


def _alignments(objects: list[str], root: Path) -> dict[tuple[str, str], int]:
    """{(object path as the map names it, section): alignment} from arm-none-eabi-objdump -h."""
    _require_tools("arm-none-eabi-objdump")
    out: dict[tuple[str, str], int] = {}
    files = sorted({o.split("(")[0] for o in objects})
    for f in files:
        text = subprocess.run(["arm-none-eabi-objdump", "-h", f], cwd=root, capture_output=True, text=True).stdout
        member = None
        for ln in text.splitlines():
            m = re.match(r"^(\S+):\s+file format", ln)
            if m:
                member = m.group(1)
                continue
            m = re.match(r"^\s*\d+\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+2\*\*(\d+)", ln)
            if m and member is not None:
                key = f if member == f or f.endswith(member) and not f.endswith(".a") else f"{f}({member})"
                out[(key, m.group(1))] = 1 << int(m.group(2))
    return out


def parse_layout(mapfile: Path, root: Path) -> dict:
    """The placement of every input section of the output sections that count, in linker order.

    {section: {"start": address, "size": size, "events": [["in", name, path, size, align] |
    ["align", n]]}}"""
    lines = mapfile.read_text().splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Linker script and memory map")), 0)
    layout: dict[str, dict] = {}
    section = None
    pending = None
    for ln in lines[start:]:
        ln = ln.rstrip()
        m = _SECTION.match(ln)
        if m or (ln.startswith(".") and " " not in ln.strip()):
            section = (m.group(1) if m else ln.strip())
            if section in ALL_SECTIONS and m:
                layout[section] = {"start": int(m.group(2), 16), "size": int(m.group(3), 16), "events": []}
            elif section in ALL_SECTIONS:
                layout[section] = {"start": None, "size": None, "events": []}
            continue
        if section not in layout:
            continue
        a = _ALIGN_STMT.match(ln)
        if a:
            layout[section]["events"].append(["align", int(a.group(1), 0)])
            continue
        if pending is not None and ln.startswith(" " * 16):
            ln = " " + pending + ln
        pending = None
        m = _INPUT.match(ln)
        if m is None:
            if re.match(r"^ (\.\S+)$", ln):
                pending = ln.strip()
            continue
        name, addr, size, path = m.group(1) or "", int(m.group(2), 16), int(m.group(3), 16), (m.group(4) or "").strip()
        if name == "*fill*" or not path:
            if section == ".stack":
                layout[section]["events"].append(["fixed", size])
            continue
        layout[section]["events"].append(["in", name, path, size, 1, addr])
    objs = [e[2] for s in layout.values() for e in s["events"] if e[0] == "in" and e[2] != "linker stubs"]
    align = _alignments(objs, root)
    for s in layout.values():
        for e in s["events"]:
            if e[0] == "in":
                e[4] = align.get((e[2], e[1]), 1)
    return layout


def replay(layout: dict, sizes: dict[tuple[str, str], int]) -> dict[str, int]:
    """Output section sizes with the input sections ``(section name, object suffix)`` resized."""
    out = {}
    for sec, s in layout.items():
        start = s["start"] or 0
        cur = start
        for e in s["events"]:
            if e[0] == "align":
                cur = -(-cur // e[1]) * e[1]
            elif e[0] == "fixed":
                cur += e[1]
            else:
                _, name, path, size, al, _addr = e
                for (n, suffix), new in sizes.items():
                    if n == name and path.endswith(suffix):
                        size = new
                        break
                cur = -(-cur // al) * al + size
        out[sec] = cur - start
    return out


def predict_size(files: dict[str, str], board: str, arena_bytes: int) -> SizePrediction:
    """Flash and SRAM of the firmware the generated ``files`` build into for ``board``."""
    d = skeleton_dir(files, board)
    layout = json.loads((d / "layout.json").read_text())
    arrays = weight_arrays(files["mcc_weights.c"])
    sizes = {(f".rodata.{k}", "mcc_weights.o"): v for k, v in arrays.items()}
    sizes[(".bss.s_arena", "mcc_cortexm/main.o")] = int(arena_bytes)
    secs = replay(layout, sizes)
    flash = sum(secs.get(s, 0) for s in FLASH_SECTIONS)
    sram = sum(secs.get(s, 0) for s in SRAM_SECTIONS)
    return SizePrediction(board, flash, sram, secs, arrays)


def predict_graph(g, target: str, dsp: bool = True, model_name: str = "model", sparse: bool = True) -> SizePrediction:
    """Generate the project for graph ``g`` on ``target`` in memory and predict its sizes
    (``sparse``: with the sparse FC / 1x1 conv kernels where they pay, as `mcc compile` does)."""
    from .. import api
    from ..codegen import generate
    from ..targets import get_target

    t = get_target(target)
    if t.is_host:
        raise MccError("size prediction is for Cortex-M targets (-t BOARD); the host has no flash budget")
    has_dsp = t.has_dsp and dsp
    records = api.lower_graph(g)
    if sparse:
        records = api.sparse_records(g, records, has_dsp)
    kernels = api.select_kernels(g, records, has_dsp)
    plan = api.plan_memory(g, records, has_dsp, kernels)
    files = generate(g, plan, records, model_name, "model", t, has_dsp)
    return predict_size(files, t.board.name, plan.arena_bytes)
