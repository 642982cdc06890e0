"""Regenerate the committed demo organisation in this folder: `python seeds/generate.py`.

Same as `python -m registry.synthetic --out seeds --seed 0`; the output is deterministic and
tests/test_synthetic.py checks that the committed files are exactly what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.synthetic import FINDING_KINDS, generate_world  # noqa: E402


def regenerate() -> None:
    world = generate_world(seed=0)
    world.write(Path(__file__).resolve().parent)
    spec = world.spec
    print(f"{len(spec['teams'])} teams, {len(spec['sources'])} sources, "
          f"{len(spec['features'])} features, {len(spec['consumers'])} consumers, "
          f"{len(world.usage)} usage lines, {len(world.importance)} importance rows, "
          f"snapshot {world.snapshot.shape[0]} x {world.snapshot.shape[1]}")
    for kind in FINDING_KINDS:
        print(f"  {kind:22} {len(world.truth[kind])}")


if __name__ == "__main__":
    regenerate()
