"""Checking decision signatures for a batch, in worker processes while the batch is decoded.

An Ed25519 verification costs more than decoding the decision it covers, and the ``cryptography``
package holds the GIL while it verifies, so threads do not help. With ``workers`` > 0 the
verifications run in that many spawned processes (keys handed over as raw bytes), submitted
before the batch is decoded and collected after: decoding and verifying overlap. The headers
are read (and unknown keys refused) in the calling process, so the records can be decoded with
their signature attached; a record whose signature then fails becomes a rejected record.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Sequence
from concurrent.futures import ProcessPoolExecutor

from services.common.signing import Headers, KeyRing, SignatureCheck

_worker_keys: KeyRing | None = None


def _init_worker(raw_keys: list[bytes]) -> None:
    global _worker_keys
    _worker_keys = KeyRing.from_raw(raw_keys)


def _verify_chunk(items: list[tuple[str, bytes, bytes]]) -> list[str | None]:
    keys = _worker_keys
    if keys is None:
        raise RuntimeError("signature worker started without keys")
    return [keys.verify(key_id, value, signature) for key_id, value, signature in items]


class SignatureChecker:
    """Reads and verifies the signatures of a batch (``workers`` = 0: in this process)."""

    def __init__(self, keys: KeyRing, workers: int = 0) -> None:
        self.keys = keys
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(keys.raw_public_keys(),),
            )

    def read(self, records: Sequence[tuple[bytes, Headers | None]]) -> list[SignatureCheck]:
        """Headers read and keys looked up, signatures not yet verified (cheap)."""
        return [self.keys.read_headers(headers) for _, headers in records]

    def verify(
        self, records: Sequence[tuple[bytes, Headers | None]], read: list[SignatureCheck]
    ) -> Awaitable[list[SignatureCheck]]:
        """Start verifying every signature ``read`` found well formed; await the outcome.

        The work is submitted before this returns, so the caller can decode meanwhile.
        """
        todo = [
            (i, (c.key_id, records[i][0], c.signature))
            for i, c in enumerate(read)
            if c.problem is None and c.key_id is not None and c.signature is not None
        ]
        items = [item for _, item in todo]
        if self._pool is None or not items:
            outcome = asyncio.get_running_loop().create_future()
            outcome.set_result(_merge(read, todo, [self.keys.verify(*item) for item in items]))
            return outcome
        loop = asyncio.get_running_loop()
        size = -(-len(items) // self._workers)
        parts = [
            loop.run_in_executor(self._pool, _verify_chunk, items[start : start + size])
            for start in range(0, len(items), size)
        ]

        async def collect() -> list[SignatureCheck]:
            problems = [p for part in await asyncio.gather(*parts) for p in part]
            return _merge(read, todo, problems)

        return asyncio.ensure_future(collect())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _merge(
    read: list[SignatureCheck],
    todo: Sequence[tuple[int, object]],
    problems: list[str | None],
) -> list[SignatureCheck]:
    merged = list(read)
    for (i, _), problem in zip(todo, problems, strict=True):
        if problem is not None:
            merged[i] = SignatureCheck(read[i].key_id, read[i].signature, problem)
    return merged
