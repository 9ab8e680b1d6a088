import json
import urllib.error
import urllib.parse
import urllib.request

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands.bootstrap import DEMO_USERNAME
from accounts.services import user_token_get_or_create
from prsm.engine.catalog import catalog_build, read_card

DEMO_TEACHER = "digits-mlp"
DEMO_REQUEST = {
    "teacher_model": f"catalog:{DEMO_TEACHER}", "domain": "handwritten digits", "target_size": "small",
    "optimization_target": "speed", "budget_ftns": 500, "quality_threshold": 0.85, "epochs": 10,
    "export_formats": ["safetensors", "onnx"],
}


class Command(BaseCommand):
    help = "Submit the demo distillation through the API of a running server and say how to watch it."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):  # urllib would also open file: and ftp:
            raise CommandError(f"--base-url must start with http:// or https://, not {base_url!r}")
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            raise CommandError("no demo user: run `manage.py bootstrap` first")
        if read_card(DEMO_TEACHER) is None:
            self.stdout.write(f"Building the demo teacher catalog:{DEMO_TEACHER} (once; about a minute)...")
            catalog_build(DEMO_TEACHER, quick=True)
        token = user_token_get_or_create(user=user)
        job = self._submit(base_url.rstrip("/"), token)
        job_id = job["job_id"]
        self.stdout.write(f"""
  Demo job submitted: {job_id}  (backend {job['backend']}: {job['backend_reason']})
  Browser:   {base_url}/jobs/{job_id}/   (log in as {DEMO_USERNAME})
  Status:    curl -H 'Authorization: Token {token}' {base_url}/api/v1/distillations/{job_id}/
  Live:      websocket {base_url.replace('http', 'ws', 1)}/ws/distillations/{job_id}/?token={token}
  SDK:       PRSM_URL={base_url} PRSM_TOKEN={token} python -c "import asyncio; from prsm.distillation import \\
             DistillationOrchestrator as O; print(asyncio.run(O().wait('{job_id}')))"
  Same job in this terminal, no server: .venv/bin/prsm distill --teacher catalog:{DEMO_TEACHER} --data builtin:digits --out runs/demo
""")

    def _submit(self, base_url: str, token: str) -> dict:
        request = urllib.request.Request(f"{base_url}/api/v1/distillations/", data=json.dumps(DEMO_REQUEST).encode(),
                                         method="POST", headers={"Authorization": f"Token {token}",
                                                                 "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310  # http(s) only, checked in handle
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise CommandError(f"the API refused the demo job: {exc.code} {exc.read().decode()[:300]}") from None
