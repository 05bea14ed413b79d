"""Peak memory of a stage: what the study's cost columns need besides wall time.

On a GPU it is the CUDA allocator's peak on the stage's device. On CPU it is the process's peak resident set
(VmHWM, reset at the start through /proc/self/clear_refs): process-wide, so stages running side by side in one
worker share it; the `memory_scope` field says which one a number is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class PeakMemory:
    """Context manager: `with PeakMemory() as peak: ...` then `peak.gib` and `peak.scope`."""

    gib: float = 0.0
    scope: str = field(default="")

    def __enter__(self) -> PeakMemory:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            self.scope = "cuda_allocated"
        else:
            self.scope = "process_rss" if _reset_rss_peak() else "process_rss_lifetime"
        return self

    def __exit__(self, *exc_info) -> None:
        import torch

        if self.scope == "cuda_allocated":
            self.gib = torch.cuda.max_memory_allocated() / 2**30
        else:
            self.gib = _rss_peak_kib() / 2**20


def _reset_rss_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")  # "5" resets the peak RSS (Linux >= 4.0)
    except OSError:
        return False
    return True


def _rss_peak_kib() -> int:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
