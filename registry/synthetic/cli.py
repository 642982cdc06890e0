"""The command line of `python -m registry.synthetic`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from registry.synthetic.world import generate_world


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m registry.synthetic --out seeds --seed 0` writes a world to a folder."""
    parser = argparse.ArgumentParser(
        prog="python -m registry.synthetic",
        description="Write a synthetic organisation with planted "
        "technical debt and its ground truth.",
    )
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", type=int, default=150)
    parser.add_argument("--consumers", type=int, default=20)
    parser.add_argument("--teams", type=int, default=5)
    parser.add_argument("--rows", type=int, default=3000, help="snapshot rows")
    parser.add_argument("--usage-lines", type=int, default=None)
    args = parser.parse_args(argv)
    world = generate_world(
        args.features, args.consumers, args.teams, args.rows, args.usage_lines, args.seed
    )
    world.write(args.out)
