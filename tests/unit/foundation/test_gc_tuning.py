"""Start-up objects are moved out of the cyclic collector's reach."""

from __future__ import annotations

import gc

from services.common.gc_tuning import freeze_startup_objects


def test_startup_objects_are_frozen_and_no_longer_scanned() -> None:
    kept = [{"n": n} for n in range(10_000)]
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= len(kept)
        assert all(not any(o is k for o in gc.get_objects(2)) for k in kept[:3])
    finally:
        gc.unfreeze()
