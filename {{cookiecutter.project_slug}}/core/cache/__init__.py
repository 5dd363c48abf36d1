"""The cache: `cached` reads, `cache.invalidate_on_commit` writes (core/cache/cache.py)."""

from core.cache.cache import Cache, cache, cached

__all__ = ["Cache", "cache", "cached"]
