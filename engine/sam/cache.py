"""A small memory-bounded cache of image embeddings (least recently used goes first)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

DEFAULT_CACHE_BYTES = 384 * 1024 * 1024  # SAM 2.1 at 1024 input: 16 MiB per embedding -> ~24 images


@dataclass(frozen=True)
class Window:
    """The part of the image an embedding covers: ``x1, y1`` inclusive, ``x2, y2`` exclusive
    (integer image pixels)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) in image pixels."""
        return (self.y2 - self.y1, self.x2 - self.x1)

    def contains(self, x1: float, y1: float, x2: float, y2: float, margin: float = 0.0) -> bool:
        """Whether the box ``x1, y1, x2, y2`` (image pixels) lies inside, at least ``margin``
        (a share of the window's size) away from every side."""
        h, w = self.size_hw
        mx, my = margin * w, margin * h
        return x1 >= self.x1 + mx and y1 >= self.y1 + my and x2 <= self.x2 - mx and y2 <= self.y2 - my


@dataclass(frozen=True)
class Embedding:
    """One image window's features: SAM 2's ``image_embed`` (1, 256, R/16, R/16) and two
    high-resolution maps (1, 32, R/4, R/4), (1, 64, R/8, R/8) for input resolution R;
    EfficientViT-SAM's ``image_embed`` (1, 256, 64, 64) and no maps."""

    window: Window
    image_embed: torch.Tensor
    high_res_feats: tuple[torch.Tensor, ...]
    seconds: float

    @property
    def nbytes(self) -> int:
        """Memory held by the tensors, bytes."""
        tensors = (self.image_embed, *self.high_res_feats)
        return sum(t.element_size() * t.nelement() for t in tensors)


CacheKey = tuple[str, str, Window]  # (model name, image key, window)


class EmbeddingCache:
    """Embeddings by (model, image, window), at most ``max_bytes`` in all (LRU eviction)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[CacheKey, Embedding] = OrderedDict()

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return sum(item.nbytes for item in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: CacheKey) -> Embedding | None:
        """The embedding stored under ``key`` (now the most recently used), or None."""
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def windows(self, model: str, image_key: str) -> list[Window]:
        """The windows of one image held now, most recently used last."""
        return [key[2] for key in self._items if key[0] == model and key[1] == image_key]

    def put(self, key: CacheKey, embedding: Embedding) -> None:
        """Store ``embedding``; evict the least recently used ones beyond ``max_bytes`` (the new
        one always stays)."""
        self._items[key] = embedding
        self._items.move_to_end(key)
        total = self.nbytes
        while total > self.max_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            total -= dropped.nbytes
