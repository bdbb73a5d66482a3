"""The benchmarks (docs/PERFORMANCE.md), run from the repository root as modules: `.venv/bin/python -m bench.run`,
`-m bench.cache`, `-m bench.pages`, `-m bench.profile_worker`, `-m bench.load`; the large-scale ones in bench.scale."""
