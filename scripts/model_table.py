"""Write README's table of registered models (between the models:start/end markers).

    python scripts/model_table.py          # rewrite README.md
    python scripts/model_table.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import cnnzoo

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- models:start[^>]*-->\n)(.*?)(<!-- models:end -->)", re.S)


def model_table() -> str:
    rows = [
        "| name | paper | year | input | parameters |",
        "|---|---|---|---|---:|",
    ]
    for name in cnnzoo.list_models():
        info = cnnzoo.model_info(name)
        paper = f"{info.paper.authors.split(',')[0].split(' and ')[0]}: {info.paper.title}"
        size = "×".join(map(str, info.input_size))
        rows.append(
            f"| `{name}` | {paper} | {info.paper.year} | {size} | "
            f"{cnnzoo.count_parameters(name):,} |"
        )
    return "\n".join(rows) + "\n"


def updated_readme(text: str) -> str:
    if not BLOCK.search(text):
        raise SystemExit("README.md has no models:start/models:end markers")
    return BLOCK.sub(lambda m: m.group(1) + model_table() + m.group(3), text)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = updated_readme(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
