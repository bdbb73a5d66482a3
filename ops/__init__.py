"""Operations checks (ops/README.md), run from the repository root as modules: `.venv/bin/python -m ops.load`,
`-m ops.rebuild_under_load`, `-m ops.failover`, `-m ops.cache_check`, `-m ops.slow_query`, `-m ops.fuzz_deep`."""
