"""`mcc prune`: load, prune, fine-tune, save, and print the summary tables."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ...errors import InputDataError, ModelFormatError


def layer_table(res) -> Table:
    unit = "channels" if res.structured else "weights"
    t = Table(title=f"pruned layers ({res.config.method}, {res.config.schedule}, "
                    f"{'structured' if res.structured else 'unstructured'})")
    for c in ("layer", "kind", f"{unit} before", "after", "sparsity", "note"):
        t.add_column(c, justify="right" if c in (f"{unit} before", "after", "sparsity") else "left")
    for r in res.layers:
        t.add_row(r.name, r.kind, f"{r.before:,}", f"{r.after:,}", f"{100 * r.sparsity:.1f} %",
                  r.reason or (f"group {r.group}" if r.group and r.group != r.name else ""))
    return t


def sensitivity_table(res) -> Table:
    levels = sorted({r.sparsity for r in res.sensitivity})
    t = Table(title="sensitivity: validation accuracy (loss) with one unit pruned alone, no fine-tuning")
    t.add_column("unit (layers)")
    for s in levels:
        t.add_column(f"{100 * s:.0f} %", justify="right")
    units: dict[str, dict] = {}
    for r in res.sensitivity:
        units.setdefault(r.unit, {"layers": r.layers})[r.sparsity] = r
    for u, d in units.items():
        name = u if len(d["layers"]) == 1 else f"{u} ({', '.join(d['layers'])})"
        t.add_row(name, *[f"{100 * d[s].accuracy:.1f} % ({d[s].loss:.3f})" if s in d else "" for s in levels])
    return t


def totals_table(res) -> Table:
    t = Table(title="totals")
    for c in ("", "before", "after", "ratio"):
        t.add_column(c, justify="left" if not c else "right")
    for name, (a, b) in (("MACs", res.macs), ("weight bytes (int8, int32 bias)", res.flash)):
        t.add_row(name, f"{a:,}", f"{b:,}", f"{b / a:.3f}" if a else "")
    return t


def run_prune(console, model_path, output, train, val, *, method, sparsity, schedule, epochs, batch_size,
              structured, layers, budget):
    from ...frontend.keras import read_model
    from . import PruneConfig, prune_model

    out = Path(output)
    if out.suffix != ".keras":
        raise ModelFormatError(f"{out}: the pruned model is written as a .keras file")
    cfg = PruneConfig(method=method, sparsity=sparsity, schedule=schedule, epochs=epochs, batch_size=batch_size,
                      structured=structured, budget=budget,
                      layers=tuple(n.strip() for n in layers.split(",")) if layers else None)
    model = read_model(model_path)
    x, y = train
    shape = tuple(model.inputs[0].shape[1:])
    try:
        x = x.reshape((len(x),) + shape)
    except ValueError:
        raise InputDataError(f"training x has shape {x.shape[1:]}, the model takes {shape}") from None
    if val is not None:
        val = (val[0].reshape((len(val[0]),) + shape), val[1])
    res = prune_model(model, cfg, x, y, validation_data=val, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    res.model.save(out)
    console.print(layer_table(res))
    if res.sensitivity:
        console.print(sensitivity_table(res))
    console.print(totals_table(res))
    for n in res.notes:
        console.print(f"note: {n}")
    console.print(f"mcc: achieved sparsity {100 * res.sparsity:.1f} % "
                  f"({'channels' if res.structured else 'weights'}); wrote {out}")
    return res
