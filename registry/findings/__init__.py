"""Analysis runs, stored findings and their lifecycle, explanations in words."""
