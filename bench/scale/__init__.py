"""Measurements at scale on a synthetic dataset: `.venv/bin/python -m bench.scale.generate` writes a project root,
`-m bench.scale.profile_build` times the real build of it, `-m bench.scale.run`, `-m bench.scale.shapes` and
`-m bench.scale.search` measure the database it gives."""
