"""Image encoders: each maps ``(B, C, S, S)`` images to ``(B, T, D)`` feature tokens."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvEncoder", "ViTEncoder"]


class ViTEncoder(nn.Module):
    """A plain Vision Transformer (patch embedding, learned positions, pre-norm blocks).

    ``(B, in_chans, img_size, img_size)`` -> ``(B, (img_size / patch)^2, dim)``.
    """

    def __init__(
        self,
        *,
        img_size: int,
        patch: int,
        in_chans: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        if img_size % patch:
            raise ValueError(f"img_size {img_size} is not a multiple of patch {patch}")
        self.img_size = img_size
        self.out_dim = dim
        self.patch_embed = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, (img_size // patch) ** 2, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim,
            heads,
            dim_feedforward=int(dim * mlp_ratio),
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)
        return self.norm(self.blocks(tokens + self.pos_embed))


class ConvEncoder(nn.Module):
    """A small strided CNN whose final feature map cells are the tokens (cheap on CPU).

    ``(B, in_chans, S, S)`` -> ``(B, (S / 2^len(widths))^2, dim)``.
    """

    def __init__(self, *, img_size: int, in_chans: int, widths: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.img_size = img_size
        self.out_dim = dim
        layers: list[nn.Module] = []
        c = in_chans
        for w in widths:
            layers += [
                nn.Conv2d(c, w, 3, stride=2, padding=1),
                nn.GroupNorm(min(8, w), w),
                nn.GELU(),
                nn.Conv2d(w, w, 3, padding=1),
                nn.GroupNorm(min(8, w), w),
                nn.GELU(),
            ]
            c = w
        self.body = nn.Sequential(*layers)
        cells = (img_size // 2 ** len(widths)) ** 2
        self.proj = nn.Linear(c, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, cells, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.body(x).flatten(2).transpose(1, 2)
        return self.norm(self.proj(feats) + self.pos_embed)
