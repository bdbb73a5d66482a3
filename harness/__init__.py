"""The test, ops and bench harness: servers on 127.0.0.0/8 started, awaited and stopped (servers), latency statistics (stats).

Shared by tests/conftest.py, the ops/ scripts and bench/. Everything here talks to loopback addresses only,
and every wait is bounded in time.
"""
