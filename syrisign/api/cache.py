"""Finished responses kept in memory."""
from __future__ import annotations

from collections import OrderedDict


class LRUCache:
    """Responses by key, least recently used dropped first, bounded in entries and bytes (event loop only)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._d: OrderedDict[tuple, tuple[bytes, dict]] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, key: tuple) -> tuple[bytes, dict] | None:
        v = self._d.get(key)
        if v is None:
            self.misses += 1
            return None
        self._d.move_to_end(key)
        self.hits += 1
        return v

    def put(self, key: tuple, body: bytes, meta: dict) -> None:
        if len(body) > self.max_bytes or self.max_entries <= 0:
            return
        old = self._d.pop(key, None)
        if old is not None:
            self.bytes -= len(old[0])
        self._d[key] = (body, meta)
        self.bytes += len(body)
        while len(self._d) > self.max_entries or self.bytes > self.max_bytes:
            _, (b, _) = self._d.popitem(last=False)
            self.bytes -= len(b)

    def __len__(self) -> int:
        return len(self._d)


