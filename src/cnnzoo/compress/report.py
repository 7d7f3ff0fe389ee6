"""The compression report: per layer and in total, as Deep Compression's Tables 2–5 give it.

Sizes per stage (Han, Mao & Dally 2016, Tables 2–5 and §2–4):

- *original*: every parameter in float32;
- *pruned* (P): a compressed layer's stored entries (fillers included) as float32 values plus
  ``g``-bit relative indices; everything else raw float32;
- *quantized* (P+Q): the entries as ``b``-bit cluster indices plus ``g``-bit relative
  indices, and the codebook in float32 (``b + 1`` bits where all ``2^b`` clusters are in use
  and fillers need a symbol of their own);
- *Huffman* (P+Q+H): the bytes each section really takes in the file;
- *file*: the compressed file's size on disk (``os.path.getsize``), header included — the
  compression ratio is the original size over this.

"Weight bits" and "index bits" are per stored entry: ``b`` and ``g`` at the fixed widths,
and the Huffman streams' bits divided by the entries after coding.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

__all__ = ["layer_rows", "print_report", "report_tables"]


def layer_rows(layers: dict, stats: dict, bits: dict, masks: dict) -> list[dict]:
    """One report row per compressed layer. ``stats`` maps tensor names to the file's
    :class:`~cnnzoo.compress.fileformat.SectionStats`."""
    rows = []
    for name, module in layers.items():
        s = stats[f"{name}.weight"]
        n, kept = module.weight.numel(), int(masks[name].sum())
        b, g = bits[name], s.gap_width
        # fillers are a symbol of their own: with every one of the 2^b clusters in use, a fixed
        # width needs one bit more to tell them apart
        stored_b = b if s.clusters + (s.fillers > 0) <= 2 ** b else b + 1
        sizes = {
            "original": 4 * n,
            "pruned": (s.entries * (32 + g) + 7) // 8,
            "quantized": (s.entries * (stored_b + g) + 7) // 8 + 4 * s.clusters,
            "huffman": s.bytes,
        }
        per_entry = max(s.entries, 1)
        rows.append({
            "layer": name,
            "kind": "conv" if module.weight.dim() > 2 else "fc",
            "shape": list(module.weight.shape),
            "weights": n,
            "kept": kept,
            "kept_pct": 100.0 * kept / n,
            "bits": b,
            "clusters": s.clusters,
            "weight_bits_huffman": s.index_stream_bits / per_entry,
            "index_bits": g,
            "index_bits_huffman": s.gap_stream_bits / per_entry,
            "entries": s.entries,
            "fillers": s.fillers,
            "bytes": sizes,
            "rate_pq_pct": 100.0 * sizes["quantized"] / sizes["original"],
            "rate_pqh_pct": 100.0 * sizes["huffman"] / sizes["original"],
        })
    return rows


def _kb(n: float) -> str:
    return f"{n / 1000:,.1f} KB"


def report_tables(report: dict) -> list[Table]:
    """The report as rich tables: the paper's per-layer table and the stages."""
    title = f"Deep Compression of {report['model']} on {report['dataset']}"
    layers = Table(title=title)
    for col in ("layer", "weights", "kept\n(P)", "weight bits\n(P+Q)", "weight bits\n(P+Q+H)",
                "index bits\n(P+Q)", "index bits\n(P+Q+H)", "rate\n(P+Q)", "rate\n(P+Q+H)"):
        layers.add_column(col, justify="left" if col == "layer" else "right")
    for r in report["layers"]:
        layers.add_row(
            r["layer"], f"{r['weights']:,}", f"{r['kept_pct']:.1f}%", str(r["bits"]),
            f"{r['weight_bits_huffman']:.1f}", str(r["index_bits"]), f"{r['index_bits_huffman']:.1f}",
            f"{r['rate_pq_pct']:.2f}%", f"{r['rate_pqh_pct']:.2f}%",
        )
    t = report["total"]
    layers.add_row(
        "total", f"{t['weights']:,}", f"{t['kept_pct']:.1f}%", "", f"{t['weight_bits_huffman']:.1f}",
        "", f"{t['index_bits_huffman']:.1f}", f"{t['rate_pq_pct']:.2f}%", f"{t['rate_pqh_pct']:.2f}%",
        style="bold",
    )
    stages = Table(title=f"{report['file']}  ({report['file_bytes']:,} bytes on disk)")
    for col in ("stage", "size", "ratio", "test top-1"):
        stages.add_column(col, justify="left" if col == "stage" else "right")
    for s in report["stages"]:
        top1 = "" if s["top1"] is None else f"{s['top1']:.2f}%"
        stages.add_row(s["stage"], _kb(s["bytes"]), f"{s['ratio']:.1f}×", top1)
    return [layers, stages]


def print_report(report: dict, console: Console | None = None) -> None:
    """Print the tables, each as wide as it needs (numbers are never cropped)."""
    console = console or Console()
    for table in report_tables(report):
        natural = console.measure(table, options=console.options.update_width(10_000)).maximum
        wide = Console(file=console.file, width=max(console.width, natural), force_terminal=console.is_terminal,
                       color_system=console.color_system and "auto")
        wide.print(table)
