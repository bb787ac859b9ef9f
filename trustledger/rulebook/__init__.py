"""Rulebooks: one regime per YAML file, its legality lint and its condition language."""
