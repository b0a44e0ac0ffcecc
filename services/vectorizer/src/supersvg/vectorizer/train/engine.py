"""Training of the coarse and refinement stages on superpixel crops of an image folder.

Coarse stage: the target is the masked crop itself; predicted paths are rendered through
``pydiffvg`` and compared inside the superpixel (masked pixel loss), coverage outside it is
penalised (mask loss) and so is the number of visible paths (path-count loss).

Refinement stage (coarse-paths-guided): a frozen coarse model draws the first half of its
paths as the canvas; the refinement model adds paths on top, trained with the pixel and
mask losses plus DPW towards the coarse model's remaining paths, a guidance whose weight
fades to zero by mid-training.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import CheckpointError
from ..losses import dpw_loss, mask_coverage_loss, masked_pixel_loss, path_count_loss
from ..models import (
    CoarseModel,
    ModelConfig,
    PathParams,
    build_model,
    get_config,
    load_checkpoint,
    load_models,
    render_paths,
)
from .data import ImageFolder, SuperpixelCrops
from .hooks import CheckpointHook, LogHook, MetricsHook, PreviewHook, TimeLimitHook
from .loop import ResumableBatchSampler, Trainer

__all__ = ["TrainOptions", "over", "run_training"]

log = logging.getLogger(__name__)

#: Path-count weight from the paper; it only breaks ties between equally good covers.
COUNT_WEIGHT = 1e-5
DPW_WEIGHT = 0.01


@dataclass
class TrainOptions:
    """Everything ``supersvg train`` takes."""

    data: Path
    output: Path
    stage: str = "coarse"
    config: str = "tiny"
    epochs: int = 1
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    max_steps: int | None = None
    resume: bool = False
    coarse: Path | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_workers: int = 0
    checkpoint_every: int = 200
    preview_every: int = 200
    log_every: int = 20
    max_images: int | None = None
    time_limit: float | None = None
    threads: int | None = None
    #: End this run after this many steps (the schedule still spans ``max_steps``).
    stop_after: int | None = None


def over(top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """Straight-alpha ``(B, 4, H, W)`` ``top`` over ``bottom`` (Porter-Duff)."""
    a, b = top[:, 3:4], bottom[:, 3:4]
    out_a = a + b * (1 - a)
    rgb = (top[:, :3] * a + bottom[:, :3] * b * (1 - a)) / out_a.clamp_min(1e-6)
    return torch.cat([rgb, out_a], dim=1)


def _on_black(rgba: torch.Tensor) -> torch.Tensor:
    return rgba[:, :3] * rgba[:, 3:4]


def _float(p: PathParams) -> PathParams:
    return PathParams(p.points.float(), p.colors.float(), p.visibility.float(), p.vis_prob.float())


#: Our mask loss is a mean over outside pixels (in [0, 1]) while the paper's is a sum
#: scaled by the mask area; this factor puts the two on the same footing for small crops.
MASK_SCALE = 4.0


def mask_weight(epoch: int) -> float:
    """The paper's mask-loss schedule (0.05 decaying by 0.005 per epoch, floored at 0.01),
    times :data:`MASK_SCALE`."""
    return MASK_SCALE * max(0.05 - 0.005 * (epoch + 1), 0.01)


def _dilate_px(size: int) -> int:
    # The paper dilates by 2 px at 224 px; keep at least one pixel on small crops.
    return max(1, round(2 * size / 224))


class CoarseObjective:
    """The coarse stage's step function and preview renderer."""

    def __init__(self, size: int) -> None:
        self.size = size

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        params = _float(model(batch["image"], batch["mask"]))
        return _on_black(render_paths(params, self.size))

    def __call__(
        self, model: nn.Module, batch: dict[str, torch.Tensor], trainer: Trainer
    ) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        with trainer.autocast():
            params = model(image, mask)
        params = _float(params)
        # Coverage for the mask loss is drawn with every path opaque and visible (as in the
        # paper): it shapes geometry and never pushes paths to invisibility.
        rgba, coverage = render_paths(params, self.size, with_coverage=True)
        pixel = masked_pixel_loss(_on_black(rgba), image, mask)
        cover = mask_coverage_loss(coverage, mask, dilate=_dilate_px(self.size))
        count = path_count_loss(params.visibility)
        loss = pixel + mask_weight(trainer.epoch) * cover + COUNT_WEIGHT * count
        return {"loss": loss, "pixel": pixel, "mask": cover, "count": count,
                "paths": params.visibility.sum(1).mean().detach()}  # fmt: skip


class RefineObjective:
    """The refinement stage's step function (coarse-paths-guided, with DPW)."""

    def __init__(self, size: int, teacher: CoarseModel) -> None:
        self.size = size
        self.teacher = teacher.eval().requires_grad_(False)

    def _canvas(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, PathParams]:
        with torch.no_grad():
            paths = _float(self.teacher(batch["image"], batch["mask"]))
            k = paths.points.shape[1] // 2
            canvas = render_paths(paths.select(slice(0, k)), self.size)
        return canvas, paths.select(slice(k, None))

    def predict(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        canvas, _ = self._canvas(batch)
        params = _float(model(batch["image"], _on_black(canvas), batch["mask"]))
        return _on_black(over(render_paths(params, self.size), canvas))

    def __call__(
        self, model: nn.Module, batch: dict[str, torch.Tensor], trainer: Trainer
    ) -> dict[str, torch.Tensor]:
        image, mask = batch["image"], batch["mask"]
        canvas, guide = self._canvas(batch)
        with trainer.autocast():
            params = model(image, _on_black(canvas), mask)
        params = _float(params)
        rgba, coverage = render_paths(params, self.size, with_coverage=True)
        pixel = masked_pixel_loss(_on_black(over(rgba, canvas)), image, mask)
        cover = mask_coverage_loss(coverage, mask, dilate=_dilate_px(self.size))
        count = path_count_loss(params.visibility)
        dpw = dpw_loss(params.flat(), guide.flat())
        guidance = max(0.0, 1.0 - 2.0 * trainer.progress)
        loss = (
            pixel
            + mask_weight(trainer.epoch) * cover
            + COUNT_WEIGHT * count
            + DPW_WEIGHT * guidance * dpw
        )
        return {"loss": loss, "pixel": pixel, "mask": cover, "count": count, "dpw": dpw,
                "paths": params.visibility.sum(1).mean().detach()}  # fmt: skip


def _device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    # No decay on biases, norms, learned queries and position embeddings (1-D or tokens).
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name.endswith(("queries", "pos_embed")):
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _schedule(max_steps: int) -> Any:
    warmup = max(1, int(0.05 * max_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, max_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return factor


def run_training(opts: TrainOptions) -> dict[str, Any]:
    """Train one stage; returns a summary (steps, final metrics, seconds, checkpoint)."""
    if opts.stage not in ("coarse", "refine"):
        raise ValueError(f"unknown stage {opts.stage!r}")
    if opts.stage == "refine" and opts.coarse is None:
        raise ValueError("--stage refine needs --coarse CHECKPOINT (a trained coarse model)")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(opts.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    is_main = rank == 0
    output = Path(opts.output)
    ckpt_path = output / "last.pt"
    resume_state: dict[str, Any] | None = None
    if opts.resume and ckpt_path.exists():
        resume_state = load_checkpoint(ckpt_path, device)
        cfg = ModelConfig.from_dict(resume_state["config"])
        if resume_state.get("stage") != opts.stage:
            raise CheckpointError(f"{ckpt_path} is a {resume_state.get('stage')} checkpoint")
    else:
        cfg = get_config(opts.config)

    if opts.threads:
        # On a shared CPU, more threads than free cores makes every op much slower.
        torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    images = ImageFolder(opts.data)
    if opts.max_images is not None:
        images.paths = images.paths[: opts.max_images]
        images.targets = images.targets[: opts.max_images]
    dataset = SuperpixelCrops(
        images,
        size=cfg.img_size,
        n_segments=cfg.n_segments,
        per_image=cfg.per_image,
        work_size=cfg.slic_size,
        sigma=5.0 * cfg.slic_size / 224,  # the paper's sigma=5 at 224 px
    )
    sampler = ResumableBatchSampler(
        len(dataset), opts.batch_size, seed=opts.seed, rank=rank, world_size=world
    )
    model = build_model(opts.stage, cfg).to(device)
    teacher_state: dict[str, torch.Tensor] | None = None
    objective: CoarseObjective | RefineObjective
    if opts.stage == "refine":
        assert opts.coarse is not None
        tcfg, tmodels = load_models(opts.coarse, device)
        if tcfg != cfg:
            raise CheckpointError(
                f"{opts.coarse} was trained with config {tcfg.name}, not {cfg.name}"
            )
        teacher = tmodels["coarse"]
        assert isinstance(teacher, CoarseModel)
        teacher_state = teacher.state_dict()
        objective = RefineObjective(cfg.img_size, teacher)
    else:
        objective = CoarseObjective(cfg.img_size)
    if resume_state is not None:
        model.load_state_dict(resume_state["models"][opts.stage])
    train_model: nn.Module = model
    if world > 1:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    steps = opts.max_steps or opts.epochs * len(sampler)
    optimizer = torch.optim.AdamW(
        _param_groups(model, opts.weight_decay), lr=opts.lr, betas=(0.9, 0.95)
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps))

    def payload() -> dict[str, Any]:
        models = {opts.stage: model.state_dict()}
        if teacher_state is not None:
            models["coarse"] = teacher_state
        return {"models": models, "config": cfg.to_dict(), "stage": opts.stage}

    preview_idx = list(range(min(8, len(dataset))))
    preview_batch = {
        k: torch.stack([dataset[i][k] for i in preview_idx]).to(device) for k in ("image", "mask")
    }
    hooks = [
        TimeLimitHook(opts.time_limit, steps=opts.stop_after),
        MetricsHook(output, is_main=is_main),
        LogHook(opts.log_every, is_main=is_main),
        PreviewHook(
            output,
            every=opts.preview_every,
            batch=preview_batch,
            predict=lambda b: objective.predict(model, b),
            is_main=is_main,
        ),
        CheckpointHook(output, every=opts.checkpoint_every, payload=payload, is_main=is_main),
    ]
    trainer = Trainer(
        model=train_model,
        optimizer=optimizer,
        scheduler=scheduler,
        dataset=dataset,
        sampler=sampler,
        step_fn=objective,
        max_steps=steps,
        device=device,
        hooks=hooks,
        amp=opts.amp,
        num_workers=opts.num_workers,
    )
    if resume_state is not None:
        trainer.load_state_dict(resume_state["train"])
        log.info("resumed from %s at step %d", ckpt_path, trainer.step)
    t0 = time.perf_counter()
    start = trainer.step
    trainer.train()
    seconds = time.perf_counter() - t0
    if world > 1:
        dist.barrier()
    return {
        "stage": opts.stage,
        "config": cfg.name,
        "steps": trainer.step,
        "steps_run": trainer.step - start,
        "epochs": trainer.epoch,
        "seconds": round(seconds, 3),
        "metrics": trainer.metrics,
        "checkpoint": str(ckpt_path),
        "device": str(device),
        "world_size": world,
    }
