"""A small training loop with hooks (checkpointing, metrics and previews are hooks).

The trainer owns the model, optimizer, scheduler, the resumable batch order and the RNG
states; ``state_dict()`` captures all of them, so a run resumed from a checkpoint takes
exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["HookBase", "ResumableBatchSampler", "StepFn", "Trainer", "rng_state", "set_rng_state"]

log = logging.getLogger(__name__)

#: ``step_fn(model, batch, trainer) -> {"loss": total, other named terms...}``
StepFn = Callable[[nn.Module, dict[str, torch.Tensor], "Trainer"], dict[str, torch.Tensor]]


class HookBase:
    """Called around training; ``self.trainer`` is set when registered."""

    trainer: Trainer

    def before_train(self) -> None: ...
    def after_train(self) -> None: ...
    def before_step(self) -> None: ...
    def after_step(self) -> None: ...


class ResumableBatchSampler(Sampler[list[int]]):
    """Shuffled batches whose order depends only on (seed, epoch); starts mid-epoch.

    With ``world_size > 1`` each rank takes every ``world_size``-th index of the shared
    permutation (the DistributedSampler scheme).
    """

    def __init__(
        self, n: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0
        per_rank = n // world_size
        if per_rank < batch_size:
            raise ValueError(
                f"dataset of {n} samples is too small for batch size {batch_size}"
                f" on {world_size} process(es)"
            )

    def __len__(self) -> int:
        return (self.n // self.world_size) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(self.n, generator=gen)[self.rank :: self.world_size].tolist()
        for b in range(self.start_batch, len(self)):
            yield perm[b * self.batch_size : (b + 1) * self.batch_size]


def rng_state() -> dict[str, Any]:
    """Every RNG the training step may touch, in ``weights_only``-loadable types."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        # numpy arrays are not weights_only-loadable; the key array travels as a tensor.
        "numpy": [
            kind,
            torch.from_numpy(np.asarray(keys).astype(np.int64)),
            pos,
            has_gauss,
            cached,
        ],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


class Trainer:
    """Runs ``step_fn`` for ``max_steps`` optimizer steps, calling hooks around each."""

    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        dataset: Dataset[dict[str, torch.Tensor]],
        sampler: ResumableBatchSampler,
        step_fn: StepFn,
        max_steps: int,
        device: torch.device,
        hooks: Sequence[HookBase] = (),
        amp: bool = False,
        grad_clip: float | None = 1.0,
        num_workers: int = 0,
        extra_state: dict[str, nn.Module] | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.dataset = dataset
        self.sampler = sampler
        self.step_fn = step_fn
        self.max_steps = max_steps
        self.device = device
        self.amp = amp and device.type == "cuda"
        self.amp_dtype = (
            torch.bfloat16 if self.amp and torch.cuda.is_bf16_supported() else torch.float16
        )
        # bf16 needs no loss scaling; fp16 does.
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.amp and self.amp_dtype == torch.float16
        )
        self.grad_clip = grad_clip
        self.num_workers = num_workers
        self.extra_state = extra_state or {}
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.metrics: dict[str, float] = {}
        self.hooks: list[HookBase] = []
        for h in hooks:
            self.register(h)

    def register(self, hook: HookBase) -> None:
        hook.trainer = self
        self.hooks.append(hook)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.sampler)

    @property
    def progress(self) -> float:
        """Fraction of training done, in [0, 1]."""
        return self.step / max(1, self.max_steps)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])

    # ------------------------------------------------------------------ loop

    def _batches(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            self.sampler.epoch = self.epoch
            self.sampler.start_batch = self.batch_in_epoch
            loader = DataLoader(
                self.dataset,
                batch_sampler=self.sampler,
                num_workers=self.num_workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=False,
                # Worker seeds come from their own generator, so starting a loader (as a
                # resumed run does mid-epoch) leaves the global RNG stream untouched.
                generator=torch.Generator().manual_seed(self.sampler.seed + self.epoch),
            )
            for batch in loader:
                self.batch_in_epoch += 1
                yield {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            self.epoch += 1
            self.batch_in_epoch = 0

    def train(self) -> None:
        for h in self.hooks:
            h.before_train()
        try:
            batches = self._batches()
            while self.step < self.max_steps:
                for h in self.hooks:
                    h.before_step()
                self.run_step(next(batches))
                self.step += 1
                for h in self.hooks:
                    h.after_step()
        finally:
            for h in self.hooks:
                h.after_train()

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def run_step(self, batch: dict[str, torch.Tensor]) -> None:
        t0 = time.perf_counter()
        self.model.train()
        losses = self.step_fn(self.model, batch, self)
        total = losses["loss"]
        if not math.isfinite(float(total.detach())):
            raise FloatingPointError(
                f"loss became {float(total.detach())} at step {self.step}: "
                + ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items())
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            # With fp16 loss scaling an overflow is expected and the step is skipped.
            if not self.scaler.is_enabled() and not torch.isfinite(norm):
                raise FloatingPointError(f"gradient norm became {float(norm)} at step {self.step}")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.metrics = {k: float(v.detach()) for k, v in losses.items()}
        self.metrics["lr"] = float(self.optimizer.param_groups[0]["lr"])
        self.metrics["step_seconds"] = time.perf_counter() - t0
