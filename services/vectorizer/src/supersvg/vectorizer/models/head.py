"""Path-query attention head: learned queries cross-attend to image tokens."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PathQueryHead"]


class _CrossBlock(nn.Module):
    def __init__(self, dim: int, kv_dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(kv_dim)
        self.attn = nn.MultiheadAttention(
            dim, heads, kdim=kv_dim, vdim=kv_dim, batch_first=True, dropout=0.0
        )
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim)
        )

    def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        kv = self.norm_kv(kv)
        q = q + self.attn(self.norm_q(q), kv, kv, need_weights=False)[0]
        return q + self.mlp(self.norm_mlp(q))


class PathQueryHead(nn.Module):
    """``num_paths`` learned queries -> cross-attention to the encoder tokens -> self-attention
    among paths -> a linear map to ``out_dim`` raw parameters per path.

    ``(B, T, enc_dim)`` -> ``(B, num_paths, out_dim)``.
    """

    def __init__(
        self,
        *,
        num_paths: int,
        dim: int,
        enc_dim: int,
        out_dim: int,
        heads: int,
        cross_depth: int = 1,
        self_depth: int = 1,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.num_paths = num_paths
        self.queries = nn.Parameter(torch.randn(1, num_paths, dim) * 0.02)
        self.cross = nn.ModuleList(
            [_CrossBlock(dim, enc_dim, heads, mlp_ratio) for _ in range(cross_depth)]
        )
        layer = nn.TransformerEncoderLayer(
            dim,
            heads,
            dim_feedforward=int(dim * mlp_ratio),
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.self_attn = nn.TransformerEncoder(layer, self_depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, out_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        q = self.queries.expand(tokens.shape[0], -1, -1)
        for block in self.cross:
            q = block(q, tokens)
        return self.out(self.norm(self.self_attn(q)))
