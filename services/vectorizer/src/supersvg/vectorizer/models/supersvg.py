"""The coarse and refinement models, assembled from parts given to their constructors."""

from __future__ import annotations

import torch
from torch import nn

from .paths import PathDecoder, PathParams

__all__ = ["CoarseModel", "RefineModel", "masked_input"]


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, 3, S, S)``, ``(B, 1, S, S)`` -> ``(B, 4, S, S)``: the crop with pixels outside
    the superpixel set to -1 (as in the paper), plus the mask itself."""
    return torch.cat([image * mask - (1 - mask), mask], dim=1)


class CoarseModel(nn.Module):
    """Masked superpixel crop -> N closed cubic paths with colour and visibility.

    ``forward(image (B, 3, S, S) in [0, 1], mask (B, 1, S, S)) -> PathParams`` with
    coordinates in [0, 1] of the crop.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, decoder: PathDecoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.decoder = decoder

    @property
    def img_size(self) -> int:
        size: int = getattr(self.encoder, "img_size")  # noqa: B009 - typed read
        return size

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> PathParams:
        x = masked_input(image, mask)
        return self.decoder(self.head(self.encoder(x)))


class RefineModel(nn.Module):
    """Crop + current canvas -> additional paths that add the missing detail.

    ``forward(image (B, 3, S, S), canvas (B, 3, S, S), mask (B, 1, S, S)) -> PathParams``;
    the encoder sees the masked crop, the canvas and their difference (7 channels).
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, decoder: PathDecoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.decoder = decoder

    @property
    def img_size(self) -> int:
        size: int = getattr(self.encoder, "img_size")  # noqa: B009 - typed read
        return size

    def forward(self, image: torch.Tensor, canvas: torch.Tensor, mask: torch.Tensor) -> PathParams:
        x = torch.cat([masked_input(image, mask), canvas * mask], dim=1)
        return self.decoder(self.head(self.encoder(x)))
