"""`python -m registry.synthetic --out seeds --seed 0` writes a world to a folder."""

from registry.synthetic.cli import main

main()
