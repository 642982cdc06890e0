"""Tokens and permissions."""
