"""The declared catalog: spec, plan, apply, lineage, search, lifecycle, audit."""
