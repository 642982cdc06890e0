"""Read models for pages and the API: plain JSON-ready values."""
