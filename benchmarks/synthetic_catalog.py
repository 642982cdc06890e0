"""The benchmarks' synthetic catalog: `registry.synthetic.scale`, importable from here.

    python benchmarks/synthetic_catalog.py OUT_DIR [--features N] [--edges N] [--consumers N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.synthetic.scale import (  # noqa: E402
    ScaleCatalog,
    generate_catalog,
    importance_rows,
    main,
    spec_documents,
    usage_events,
    with_changes,
    write_organisation,
    write_spec,
)

SyntheticCatalog = ScaleCatalog  # the name bench_catalog.py knew it by

__all__ = ["ScaleCatalog", "SyntheticCatalog", "generate_catalog", "importance_rows",
           "spec_documents", "usage_events", "with_changes", "write_organisation", "write_spec"]

if __name__ == "__main__":
    main()
