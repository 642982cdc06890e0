"""The demo organisation: `featreg demo` loads these files (shipped inside the wheel)."""
