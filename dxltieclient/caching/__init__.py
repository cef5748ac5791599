"""
An opt-in reputation cache for :class:`~dxltieclient.client.TieClient`, kept fresh by TIE's own
reputation change events (see :doc:`/cache`).

* :class:`CachingTieClient`: a drop-in :class:`~dxltieclient.client.TieClient` whose lookups are
  answered from the cache when possible;
* :class:`CacheStats`: a snapshot of its counters.
"""

from ._client import CachingTieClient
from ._store import CacheStats

__all__ = ["CacheStats", "CachingTieClient"]
