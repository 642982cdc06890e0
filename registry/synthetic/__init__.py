"""Synthetic organisations with planted technical debt, and the ground truth to score detectors.

`generate_world` builds a deterministic world: a catalog in the YAML spec shape of DESIGN.md,
usage events, importance rows and a labelled data snapshot. Every finding kind of DESIGN.md is
planted on purpose, with margins wide enough that a correct detector finds exactly the planted
debts (see seeds/README.md for the list of what is planted and why each margin holds).
"""

from registry.synthetic.cli import main
from registry.synthetic.world import DEFAULT_NOW, FINDING_KINDS, World, generate_world, read_truth

__all__ = ["DEFAULT_NOW", "FINDING_KINDS", "World", "generate_world", "main", "read_truth"]
