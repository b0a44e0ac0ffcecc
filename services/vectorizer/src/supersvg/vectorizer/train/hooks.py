"""Training hooks: checkpoints, metrics (CSV and TensorBoard), eval previews, logging."""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from supersvg.datasets.fetch import write_atomic

from .loop import HookBase

__all__ = [
    "CheckpointHook",
    "LogHook",
    "MetricsHook",
    "PreviewHook",
    "TimeLimitHook",
    "save_checkpoint",
]

log = logging.getLogger(__name__)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically (``.part``, fsync, rename): never half-written."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    write_atomic(path, buf.getvalue())


class CheckpointHook(HookBase):
    """Saves ``last.pt`` every ``every`` steps and at the end (rank 0 only).

    The file holds the models (``models[stage]``), the model ``config``, and ``train``:
    optimizer, scheduler, scaler, step, batch position and RNG states.
    """

    def __init__(
        self,
        output: Path,
        *,
        every: int,
        payload: Callable[[], dict[str, Any]],
        is_main: bool = True,
    ) -> None:
        self.path = Path(output) / "last.pt"
        self.every = max(1, every)
        self.payload = payload
        self.is_main = is_main
        self._saved_at = -1

    def _save(self) -> None:
        if not self.is_main or self._saved_at == self.trainer.step:
            return
        save_checkpoint(self.path, {**self.payload(), "train": self.trainer.state_dict()})
        self._saved_at = self.trainer.step

    def after_step(self) -> None:
        if self.trainer.step % self.every == 0:
            self._save()

    def after_train(self) -> None:
        self._save()


class MetricsHook(HookBase):
    """Appends each step's metrics to ``metrics.csv`` (and TensorBoard when installed)."""

    FIELDS = ("step", "epoch", "time", "lr", "loss", "pixel", "mask", "count", "dpw",
              "paths", "step_seconds")  # fmt: skip

    def __init__(self, output: Path, *, every: int = 1, is_main: bool = True) -> None:
        self.path = Path(output) / "metrics.csv"
        self.every = max(1, every)
        self.is_main = is_main
        self._writer: Any = None
        self._t0 = time.time()

    def before_train(self) -> None:
        if not self.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A resumed run drops rows past the resumed step: they were never checkpointed.
        if self.path.exists():
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= self.trainer.step]
            with open(self.path, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=self.FIELDS, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.path.parent / "tb"))
        except ImportError:  # TensorBoard is optional
            self._writer = None

    def after_step(self) -> None:
        t = self.trainer
        if not self.is_main or t.step % self.every:
            return
        row = {"step": t.step, "epoch": t.epoch, "time": round(time.time() - self._t0, 3)}
        row.update({k: round(v, 6) for k, v in t.metrics.items()})
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=self.FIELDS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        if self._writer is not None:
            for k, v in t.metrics.items():
                self._writer.add_scalar(f"train/{k}", v, t.step)

    def after_train(self) -> None:
        if self._writer is not None:
            self._writer.close()


class LogHook(HookBase):
    """Logs a one-line summary every ``every`` steps."""

    def __init__(self, every: int = 20, is_main: bool = True) -> None:
        self.every = max(1, every)
        self.is_main = is_main

    def after_step(self) -> None:
        t = self.trainer
        if self.is_main and (t.step % self.every == 0 or t.step == t.max_steps):
            terms = " ".join(f"{k}={v:.4g}" for k, v in t.metrics.items() if k != "lr")
            log.info("step %d/%d epoch %d lr=%.3g %s", t.step, t.max_steps, t.epoch,
                     t.metrics.get("lr", 0.0), terms)  # fmt: skip


class PreviewHook(HookBase):
    """Writes ``previews/step_XXXXXX.png``: targets (top) over predictions (bottom)."""

    def __init__(
        self,
        output: Path,
        *,
        every: int,
        batch: dict[str, torch.Tensor],
        predict: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        is_main: bool = True,
    ) -> None:
        self.dir = Path(output) / "previews"
        self.every = max(1, every)
        self.batch = batch
        self.predict = predict
        self.is_main = is_main

    def _write(self) -> None:
        t = self.trainer
        # Previews must not disturb training: keep the RNG streams untouched.
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            t.model.eval()
            pred = self.predict(self.batch).float().clamp(0, 1).cpu()
            t.model.train()
        target = (self.batch["image"] * self.batch["mask"]).float().cpu()
        grid = torch.cat([torch.cat(list(target), dim=2), torch.cat(list(pred), dim=2)], dim=1)
        arr = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        size = (arr.shape[1] * 4, arr.shape[0] * 4)
        img = Image.fromarray(arr).resize(size, Image.Resampling.NEAREST)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        write_atomic(self.dir / f"step_{t.step:06d}.png", buf.getvalue())

    def after_step(self) -> None:
        if self.is_main and self.trainer.step % self.every == 0:
            self._write()

    def after_train(self) -> None:
        if self.is_main and not (self.dir / f"step_{self.trainer.step:06d}.png").exists():
            os.makedirs(self.dir, exist_ok=True)
            self._write()


class TimeLimitHook(HookBase):
    """Ends this run cleanly (the checkpoint hook still saves) after ``seconds`` or after
    ``steps`` steps of this run; the LR schedule keeps spanning the full ``max_steps``."""

    def __init__(self, seconds: float | None, *, steps: int | None = None) -> None:
        self.seconds = seconds
        self.steps = steps
        self._t0 = 0.0
        self._start = 0

    def before_train(self) -> None:
        self._t0 = time.monotonic()
        self._start = self.trainer.step

    def after_step(self) -> None:
        t = self.trainer
        if self.seconds is not None and time.monotonic() - self._t0 > self.seconds:
            log.info("time limit of %.0f s reached at step %d", self.seconds, t.step)
            t.max_steps = t.step
        if self.steps is not None and t.step - self._start >= self.steps:
            t.max_steps = t.step
