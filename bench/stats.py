"""Median and spread of repeated measurements."""

import statistics
from dataclasses import dataclass, field


@dataclass
class Sample:
    """Repeated measurements of one figure, warm-up runs excluded."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def show(self, digits: int = 2, unit: str = "") -> str:
        """`0.41 s (0.39-0.45, n=5)`: the median, then min to max."""
        if not self.values:
            return "n/a"
        return (
            f"{self.median:.{digits}f}{unit} "
            f"({self.low:.{digits}f}\N{EN DASH}{self.high:.{digits}f}, n={len(self.values)})"
        )
