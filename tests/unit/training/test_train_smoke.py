"""CPU smoke run of ``supersvg train``: the tiny config learns, resumes bit-for-bit,
and its checkpoint drives ``supersvg vectorize --checkpoint``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from supersvg.vectorizer.config import VectorizeConfig
from supersvg.vectorizer.errors import CheckpointError
from supersvg.vectorizer.models import load_checkpoint, load_models
from supersvg.vectorizer.pipeline import Vectorizer
from supersvg.vectorizer.train import TrainOptions, run_training
from supersvg.vectorizer.train.cli import main as train_main


def _opts(data: Path, out: Path, **kw: object) -> TrainOptions:
    base: dict[str, object] = dict(
        data=data, output=out, stage="coarse", config="tiny", batch_size=4, lr=2e-3,
        max_images=8, threads=1, checkpoint_every=1000, preview_every=1000, log_every=1000,
    )  # fmt: skip
    base.update(kw)
    return TrainOptions(**base)  # type: ignore[arg-type]


def _losses(run: Path) -> list[float]:
    with open(run / "metrics.csv", newline="") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def trained(test_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny coarse model trained for 36 steps (one ``supersvg train`` invocation)."""
    out = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    rc = train_main(
        ["train", "--data", str(test_images), "--output", str(out), "--max-steps", "36",
         "--batch-size", "4", "--lr", "3e-3", "--max-images", "8", "--threads", "1",
         "--preview-every", "18", "--checkpoint-every", "18"]
    )  # fmt: skip
    assert rc == 0
    return out


def test_tiny_config_trains_and_loss_goes_down(trained: Path) -> None:
    losses = _losses(trained)
    assert len(losses) == 36 and all(np.isfinite(losses))
    first, last = np.mean(losses[:8]), np.mean(losses[-8:])
    assert last < 0.8 * first, (first, last)
    assert (trained / "previews" / "step_000018.png").is_file()
    assert (trained / "previews" / "step_000036.png").is_file()
    ckpt = load_checkpoint(trained / "last.pt")
    assert ckpt["train"]["step"] == 36 and ckpt["stage"] == "coarse"
    assert set(ckpt["train"]) >= {"optimizer", "scheduler", "rng", "step", "epoch"}
    assert not list(trained.glob("*.part"))


def test_resume_continues_bit_for_bit(test_images: Path, tmp_path: Path) -> None:
    steps = 8
    straight = tmp_path / "straight"
    run_training(_opts(test_images, straight, max_steps=steps))
    halves = tmp_path / "halves"
    first = run_training(_opts(test_images, halves, max_steps=steps, stop_after=steps // 2))
    assert first["steps"] == steps // 2
    second = run_training(_opts(test_images, halves, max_steps=steps, resume=True))
    assert second["steps"] == steps and second["steps_run"] == steps // 2
    a = load_checkpoint(straight / "last.pt")
    b = load_checkpoint(halves / "last.pt")
    for name, tensor in a["models"]["coarse"].items():
        assert torch.equal(tensor, b["models"]["coarse"][name]), name
    for sa, sb in zip(
        a["train"]["optimizer"]["state"].values(),
        b["train"]["optimizer"]["state"].values(),
        strict=True,
    ):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    assert a["train"]["scheduler"] == b["train"]["scheduler"]
    assert torch.equal(a["train"]["rng"]["torch"], b["train"]["rng"]["torch"])
    assert _losses(straight) == _losses(halves)


def test_non_finite_loss_stops_training(test_images: Path) -> None:
    from supersvg.vectorizer.train import ResumableBatchSampler, Trainer
    from supersvg.vectorizer.train.data import ImageFolder, SuperpixelCrops

    model = torch.nn.Linear(3, 1)
    data = SuperpixelCrops(ImageFolder(test_images), size=16, per_image=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(m: torch.nn.Module, batch: dict[str, torch.Tensor], _: Trainer) -> dict:
        out = m(batch["image"].mean(dim=(2, 3)))
        return {"loss": out.mean() * float("nan")}

    trainer = Trainer(
        model=model, optimizer=opt, scheduler=torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1),
        dataset=data, sampler=ResumableBatchSampler(len(data), 2, seed=0), step_fn=step,
        max_steps=3, device=torch.device("cpu"),
    )  # fmt: skip
    with pytest.raises(FloatingPointError, match="loss became nan at step 0"):
        trainer.train()
    before = model.weight.detach().clone()
    assert torch.equal(model.weight, before)  # no update was applied


def test_refine_stage_trains_on_the_coarse_checkpoint(
    trained: Path, test_images: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="--coarse"):
        run_training(_opts(test_images, tmp_path, stage="refine", max_steps=2))
    out = tmp_path / "refine"
    summary = run_training(
        _opts(test_images, out, stage="refine", coarse=trained / "last.pt", max_steps=6)
    )
    assert summary["steps"] == 6 and np.isfinite(summary["metrics"]["dpw"])
    cfg, models = load_models(out / "last.pt")
    assert cfg.name == "tiny" and set(models) == {"coarse", "refine"}


def test_vectorize_with_checkpoint_uses_the_learned_stage(trained: Path, tmp_path: Path) -> None:
    img = np.full((48, 64, 3), 240, np.uint8)
    img[8:30, 10:40] = (200, 30, 30)
    img[25:44, 30:60] = (20, 90, 200)
    src = tmp_path / "in.png"
    Image.fromarray(img).save(src)
    cfg = VectorizeConfig(max_paths=16, iterations=0, checkpoint=str(trained / "last.pt"))
    result = Vectorizer(cfg).vectorize(str(src))
    analytic = Vectorizer(cfg.with_(checkpoint=None)).vectorize(str(src))
    # Background plus several model paths per merged region, inside the budget.
    assert 4 <= result.num_paths <= 16
    assert result.svg != analytic.svg and "<path" in result.svg
    assert np.isfinite(result.metrics["psnr"])
    # Paths land inside the image (mapped back from their crops).
    for p in result.paths:
        for sub in p.subpaths:
            assert sub[:, 0].min() > -64 and sub[:, 0].max() < 128
            assert sub[:, 1].min() > -48 and sub[:, 1].max() < 96
    with pytest.raises(CheckpointError):
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"not a checkpoint")
        Vectorizer(VectorizeConfig(iterations=0, checkpoint=str(bad))).vectorize(str(src))


def test_checkpoints_load_weights_only(trained: Path, tmp_path: Path) -> None:
    # A checkpoint that needs arbitrary unpickling is refused, not executed.
    evil = tmp_path / "evil.pt"
    torch.save({"models": {}, "config": {}, "payload": Path("x")}, evil)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.pt")
