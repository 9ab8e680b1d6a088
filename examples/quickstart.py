"""The seed's example, as written. In-process by default; set PRSM_URL and PRSM_TOKEN to use a server.

    python examples/quickstart.py                 # needs `prsm catalog build sentiment-minilm` first
    PRSM_QUICKSTART_TEACHER=catalog:digits-mlp python examples/quickstart.py   # a faster teacher
"""

import asyncio
import os

from prsm.distillation import DistillationOrchestrator, DistillationRequest, SdkError


async def main():
    request = DistillationRequest(
        teacher_model=os.environ.get("PRSM_QUICKSTART_TEACHER", "catalog:sentiment-minilm"),
        domain="sentiment",
        target_size="small",
        optimization_target="speed",
        budget_ftns=1000,
        quality_threshold=float(os.environ.get("PRSM_QUICKSTART_THRESHOLD", "0.85")),
        epochs=int(os.environ.get("PRSM_QUICKSTART_EPOCHS", "3")),
    )
    orchestrator = DistillationOrchestrator()
    job = await orchestrator.create_distillation(request)
    print(f"job {job.job_id} on the {job.backend} backend ({orchestrator.mode})")
    async for event in orchestrator.stream(job.job_id):
        if event["type"] in ("stage", "completed", "failed", "cancelled"):
            print(f"  {event['progress']:5.1f}%  {event['current_stage']}")
    status = await orchestrator.get_status(job.job_id)
    print(status.status, status.progress, status.current_stage)
    if status.status == "completed":
        print(f"retention {status.report['retention']:.3f}, {status.report['compression_ratio']:.1f}x smaller")
        try:
            model = await orchestrator.deploy_model(job.job_id)
        except SdkError as refused:  # the quality threshold or a safety check held it back
            print(f"not deployed: {refused}")
        else:
            print("deployed", model.model_id, model.export_format)
            for answer in await model.predict(sample_inputs(status.report)):
                print(f"  predicted {answer['label']}  (p={max(answer['probabilities'].values()):.2f})")
    else:
        raise SystemExit(f"the job ended {status.status}: {status.error}")


def sample_inputs(report: dict) -> list:
    """Two texts for a text model; for a tabular one (PRSM_QUICKSTART_TEACHER=catalog:digits-mlp), a row of
    zeros as wide as the student's input."""
    if report["task"] == "text":
        return ["a great film, really fun", "dull and far too long"]
    return [[0.0] * report["student"]["architecture"]["config"]["input_dim"]]


if __name__ == "__main__":
    asyncio.run(main())
