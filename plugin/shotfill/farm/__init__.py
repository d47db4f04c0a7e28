"""Render farms: a batch as an Open Job Description job (submit, media per placeholder, place)."""
