"""Run Helm actions with helm-sdkpy in a process of their own.

The Go runtime inside helm-sdkpy reads its environment when the process starts, so the
storage driver (HELM_DRIVER=memory: releases live in this process, not in Secrets) has to be
set for a fresh process. The memory driver keeps releases per Helm configuration, so all
the steps of one scenario (install, test, upgrade...) run here, in order, on one configuration.

stdin: {"kubeconfig": path, "namespace": ns, "chart": path, "steps": [{"action": ...}, ...]}
stdout: one JSON list with each step's result, or {"error": message} for a failing step; the
run stops at the first failure unless the step says "expect_error": true.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


async def _step(helm: Any, config: Any, chart: str, step: dict[str, Any]) -> Any:
    action = step["action"]
    if action == "lint":
        return await helm.Lint(config).run(chart)
    if action == "install":
        return await helm.Install(config).run(
            step["release"], chart, values=step.get("values") or None, wait=False, timeout=60
        )
    if action == "upgrade":
        return await helm.Upgrade(config).run(
            step["release"], chart, values=step.get("values") or None, wait=False, timeout=60
        )
    if action == "test":
        return await helm.ReleaseTest(config).run(step["release"])
    if action == "uninstall":
        return await helm.Uninstall(config).run(step["release"], wait=False)
    raise ValueError(f"unknown action {action!r}")


async def _main(request: dict[str, Any]) -> list[Any]:
    import helm_sdkpy

    config = helm_sdkpy.Configuration(
        namespace=request.get("namespace", "default"), kubeconfig=request.get("kubeconfig")
    )
    results: list[Any] = []
    for step in request["steps"]:
        try:
            results.append(await _step(helm_sdkpy, config, request["chart"], step))
        except helm_sdkpy.HelmError as exc:
            results.append({"error": str(exc), "action": step["action"]})
            if not step.get("expect_error"):
                break
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_main(json.load(sys.stdin))), default=str))
