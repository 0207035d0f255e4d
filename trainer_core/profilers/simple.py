"""SimpleProfiler: the mean and total duration of every action."""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from pathlib import Path

from trainer_core.profilers.base import Profiler


class SimpleProfiler(Profiler):
    """Records each action's durations; the report has mean, calls, total and percentage."""

    def __init__(
        self, dirpath: str | Path | None = None, filename: str | None = None, extended: bool = True
    ) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.current_actions: dict[str, float] = {}
        self.recorded_durations: dict[str, list[float]] = defaultdict(list)
        self.extended = extended
        self.start_time = time.perf_counter()

    def start(self, action_name: str) -> None:
        if action_name in self.current_actions:
            raise ValueError(f"Attempted to start {action_name} which has already started.")
        self.current_actions[action_name] = time.perf_counter()

    def stop(self, action_name: str) -> None:
        end_time = time.perf_counter()
        if action_name not in self.current_actions:
            raise ValueError(
                f"Attempting to stop recording an action ({action_name}) which was never started."
            )
        self.recorded_durations[action_name].append(
            end_time - self.current_actions.pop(action_name)
        )

    def _make_report_extended(
        self,
    ) -> tuple[list[tuple[str, float, int, float, float]], int, float]:
        total_duration = time.perf_counter() - self.start_time
        report = []
        for action, durations in self.recorded_durations.items():
            total = math.fsum(durations)
            share = 100.0 * total / total_duration
            report.append((action, total / len(durations), len(durations), total, share))
        report.sort(key=lambda row: row[4], reverse=True)
        return report, sum(row[2] for row in report), total_duration

    def _make_report(self) -> list[tuple[str, float, float]]:
        report = []
        for action, durations in self.recorded_durations.items():
            total = math.fsum(durations)
            report.append((action, total / len(durations), total))
        report.sort(key=lambda row: row[1], reverse=True)
        return report

    def summary(self) -> str:
        sep = os.linesep
        stage = f"{self._stage.upper()} " if self._stage is not None else ""
        output = f"{stage}Profiler Report{sep}"
        if not self.recorded_durations:
            return output + sep
        width = max(len(k) for k in self.recorded_durations)
        if self.extended:
            output += self._extended_table(width)
        else:
            output += self._plain_table(width)
        return output + sep

    def _extended_table(self, width: int) -> str:
        sep = os.linesep

        def row(action: str, mean: str, calls: str, total: str, share: str) -> str:
            return (
                f"{sep}|  {action:<{width}s}\t|  {mean:<15}\t|  {calls:<15}\t|  {total:<15}\t|"
                f"  {share:<15}\t|"
            )

        header = row("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %")
        line = f"{sep}{'-' * len(header.expandtabs())}"
        report, total_calls, total_duration = self._make_report_extended()
        text = line + header + line
        text += row("Total", "-", f"{total_calls}", f"{total_duration:.5}", "100 %") + line
        for action, mean, calls, total, share in report:
            text += row(action, f"{mean:.5}", f"{calls}", f"{total:.5}", f"{share:.5}")
        return text + line

    def _plain_table(self, width: int) -> str:
        sep = os.linesep

        def row(action: str, mean: str, total: str) -> str:
            return f"{sep}|  {action:<{width}s}\t|  {mean:<15}\t|  {total:<15}\t|"

        header = row("Action", "Mean duration (s)", "Total time (s)")
        line = f"{sep}{'-' * len(header.expandtabs())}"
        text = line + header + line
        for action, mean, total in self._make_report():
            text += row(action, f"{mean:.5}", f"{total:.5}")
        return text + line
