"""The build's progress on a terminal, and the seconds (wall and CPU) each of its steps took, for its report."""
from __future__ import annotations

import os
import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """The build's progress line on a terminal: records read, checked and written, elapsed and estimated time.

    show is False in CI and pipes (not a TTY, or CI set): then nothing is printed here, only the summary.
    """

    def __init__(self, show: bool, out=None, every: float = 0.25):
        self.show, self.out, self.every = show, out or sys.stderr, every
        self.t0 = time.monotonic()
        self.last = 0.0
        self.step_name, self.step_t0 = "", self.t0
        self.read = self.checked = self.written = 0
        self.total: int | None = None
        self.note = ""
        self.steps: dict[str, float] = {}   # seconds spent in each step, for the report
        self.steps_cpu: dict[str, float] = {}   # and this process's CPU seconds in each
        self.step_cpu0 = time.process_time()

    @staticmethod
    def wanted(stream) -> bool:
        ci = os.environ.get("CI", "").strip().lower()
        return bool(getattr(stream, "isatty", lambda: False)()) and ci in ("", "0", "false", "no")

    def step(self, name: str):
        now, cpu = time.monotonic(), time.process_time()
        if self.step_name:
            self.steps[self.step_name] = round(self.steps.get(self.step_name, 0) + now - self.step_t0, 1)
            self.steps_cpu[self.step_name] = round(self.steps_cpu.get(self.step_name, 0) + cpu - self.step_cpu0, 1)
        self.step_name, self.step_t0, self.step_cpu0 = name, now, cpu
        self.draw(force=True)

    def update(self, read: int | None = None, checked: int | None = None, written: int | None = None, force=False):
        if read is not None:
            self.read = read
        if checked is not None:
            self.checked = checked
        if written is not None:
            self.written = written
        self.draw(force)

    def line(self) -> str:
        now = time.monotonic()
        total = f" of {self.total:,}" if self.total is not None else ""
        parts = [f"read {self.read:,}{total}", f"checked {self.checked:,}"]
        if self.read > self.checked:
            parts.append(f"{self.read - self.checked:,} with faults")
        parts += [f"written {self.written:,}", f"{_clock(now - self.t0)} elapsed"]
        if self.total and self.step_name == "check and write" and self.written:
            rate = self.written / max(now - self.step_t0, 1e-6)
            parts.append(f"about {_clock((self.total - self.written) / rate)} left in this step")
        if self.note:
            parts.append(self.note)
        return f"{self.step_name}: " + " · ".join(parts)

    def draw(self, force=False):
        if not self.show or not self.step_name:
            return
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        self.out.write("\r\x1b[K" + self.line())
        self.out.flush()

    def end(self) -> dict[str, float]:
        """The seconds of each step, the last one closed."""
        self.step("")
        return self.steps

    def elapsed(self) -> str:
        return _clock(time.monotonic() - self.t0)

    def finish(self, summary: str):
        if self.show:
            self.draw(force=True)
            self.out.write("\n" + summary + "\n")
            self.out.flush()
