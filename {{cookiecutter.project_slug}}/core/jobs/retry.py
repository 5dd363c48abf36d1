"""How a failed job is tried again: plain numbers, read and changed where the job is declared."""

import random
from dataclasses import dataclass
from typing import Literal


class DoNotRetry(Exception):
    """Raise (or subclass) in a job for a failure another attempt cannot fix: it fails at once.

    Bad input, a row that no longer exists, a rule the data breaks: trying again only delays the
    dead-letter entry that someone has to look at.
    """


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` runs in all; between them a delay that is `fixed` or doubles.

    The delay before attempt n (n >= 2) is `delay` (fixed) or `delay * 2 ** (n - 2)`
    (exponential), never more than `max_delay`, then moved by up to ±`jitter` of itself at
    random, so many jobs that failed together do not all come back at the same instant.
    """

    max_attempts: int = 3
    backoff: Literal["fixed", "exponential"] = "exponential"
    delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.delay < 0 or self.max_delay < 0:
            raise ValueError("max_attempts must be >= 1 and delays >= 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction of the delay: 0 <= jitter < 1")

    def base_delay(self, attempt: int) -> float:
        """The delay before `attempt`, without jitter."""
        steps = 0 if self.backoff == "fixed" else attempt - 2
        return min(self.delay * 2.0**steps, self.max_delay)

    def delay_before(self, attempt: int) -> float:
        base = self.base_delay(attempt)
        return base * (1 + random.uniform(-self.jitter, self.jitter))  # noqa: S311  (not crypto)

    def longest_run_seconds(self, attempt_seconds: float) -> float:
        """Worst case from first start to last failure, if each attempt takes `attempt_seconds`.

        A worker holds the job that long: keep JOBS_VISIBILITY_TIMEOUT_SECONDS above it.
        """
        delays = sum(
            self.base_delay(n) * (1 + self.jitter) for n in range(2, self.max_attempts + 1)
        )
        return self.max_attempts * attempt_seconds + delays


# One try, then the dead letter: for jobs whose side effects must not repeat.
NO_RETRY = RetryPolicy(max_attempts=1)
