"""A loopback stand-in for automation controller, as ansible-rulebook's run_job_template
action talks to it (ansible-rulebook 1.1 to 1.3, job_template_runner.py):

    GET  /api/v2/config/                             -> {"version": ...}
    GET  /api/v2/unified_job_templates/?name=<name>  -> the job template, with its launch URL
    POST /api/v2/job_templates/<id>/launch/          -> a job {"id", "url"}
    GET  /api/v2/jobs/<id>/                          -> its status (pending, running, successful, failed)
    GET  /api/v2/jobs/?id__in=<id>,...               -> the same for several jobs (1.3's job monitor)

A launch really runs the job template's playbook: ansible-playbook on the installed collection
(against hmcsim in the tests), with the launch's extra_vars when the template prompts for
variables on launch (as automation controller does) and the variables its credential
injects (unsafe, as automation controller passes them). Every launch is recorded.

    with FakeController(collections_path, workdir) as controller:
        controller.add_template("zhmc.eda reply to OS message", "zhmc.eda.controller_reply_os_message",
                                credential_vars={...})
        ... ansible-rulebook --controller-url controller.url --controller-token ...
        job = controller.wait_for_job(timeout=60)     # the first finished job
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import yaml

from tests.support.credential_types import unsafe_vars_yaml
from tests.support.playbook import PlaybookRun, run_playbook

AAP_VERSION = "4.6.0"


@dataclass
class JobTemplate:
    id: int
    name: str
    playbook: str
    organization: str = "Default"
    credential_vars: dict = field(default_factory=dict)
    ask_variables_on_launch: bool = True


@dataclass
class Job:
    id: int
    template: JobTemplate
    launch_body: dict
    status: str = "pending"
    run: PlaybookRun | None = None
    done: threading.Event = field(default_factory=threading.Event)


class FakeController:
    def __init__(self, collections_path: str, workdir: str) -> None:
        self.collections_path = collections_path
        self.workdir = workdir
        self.templates: dict[int, JobTemplate] = {}
        self.jobs: list[Job] = []
        self.token = secrets.token_hex(16)  # what ansible-rulebook sends as its Bearer token
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ set-up
    def add_template(self, name: str, playbook: str, credential_vars: dict | None = None,
                     organization: str = "Default", ask_variables_on_launch: bool = True) -> JobTemplate:
        template = JobTemplate(len(self.templates) + 1, name, playbook, organization,
                               dict(credential_vars or {}), ask_variables_on_launch)
        self.templates[template.id] = template
        return template

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake controller is not started (use it in a with block)")
        return "http://127.0.0.1:%d/" % self._server.server_address[1]

    def __enter__(self) -> FakeController:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                controller._handle(self, "GET")

            def do_POST(self):
                controller._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for job in list(self.jobs):
            job.done.wait(timeout=120)

    # ------------------------------------------------------------------ reading
    def wait_for_job(self, timeout: float, index: int = 0) -> Job:
        """The `index`-th launched job, once it finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                job = self.jobs[index] if len(self.jobs) > index else None
            if job is not None and job.done.wait(timeout=max(0.0, deadline - time.monotonic())):
                return job
            time.sleep(0.1)
        raise AssertionError("no job #%d finished within %.0f s (%d launched)" % (index, timeout, len(self.jobs)))

    # ------------------------------------------------------------------ serving
    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if request.headers.get("Authorization") != "Bearer %s" % self.token:
            return self._reply(request, 401, {"detail": "Authentication credentials were not provided."})
        url = urlparse(request.path)
        parts = [part for part in url.path.split("/") if part]
        if method == "GET" and parts == ["api", "v2", "config"]:
            return self._reply(request, 200, {"version": AAP_VERSION})
        if method == "GET" and parts == ["api", "v2", "unified_job_templates"]:
            names = parse_qs(url.query).get("name", [])
            found = [self._template_json(t) for t in self.templates.values() if t.name in names]
            return self._reply(request, 200, {"count": len(found), "next": None, "results": found})
        if method == "POST" and len(parts) == 5 and parts[:3] == ["api", "v2", "job_templates"] and parts[4] == "launch":
            template = self.templates.get(int(parts[3])) if parts[3].isdigit() else None
            if template is None:
                return self._reply(request, 404, {"detail": "Not found."})
            length = int(request.headers.get("Content-Length") or 0)
            body = json.loads(request.rfile.read(length) or b"{}")
            job = self._launch(template, body)
            return self._reply(request, 201, self._job_json(job))
        if method == "GET" and parts == ["api", "v2", "jobs"]:  # 1.3's shared job monitor polls in batches
            wanted = set(",".join(parse_qs(url.query).get("id__in", [])).split(","))
            with self._lock:
                found = [self._job_json(j) for j in self.jobs if str(j.id) in wanted]
            return self._reply(request, 200, {"count": len(found), "next": None, "results": found})
        if method == "GET" and len(parts) == 4 and parts[:3] == ["api", "v2", "jobs"] and parts[3].isdigit():
            with self._lock:
                job = next((j for j in self.jobs if j.id == int(parts[3])), None)
            if job is None:
                return self._reply(request, 404, {"detail": "Not found."})
            return self._reply(request, 200, self._job_json(job))
        return self._reply(request, 404, {"detail": "Not found."})

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, code: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        request.send_response(code)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def _template_json(template: JobTemplate) -> dict:
        return {
            "id": template.id, "type": "job_template", "name": template.name,
            "summary_fields": {"organization": {"name": template.organization}},
            "related": {"launch": "/api/v2/job_templates/%d/launch/" % template.id},
            "ask_limit_on_launch": True, "ask_inventory_on_launch": False,
            "ask_variables_on_launch": template.ask_variables_on_launch, "ask_labels_on_launch": False,
        }

    @staticmethod
    def _job_json(job: Job) -> dict:
        return {"id": job.id, "job": job.id, "type": "job", "url": "/api/v2/jobs/%d/" % job.id,
                "status": job.status, "created": "2026-01-01T00:00:00.000000Z", "artifacts": {}}

    # ------------------------------------------------------------------ jobs
    def _launch(self, template: JobTemplate, body: dict) -> Job:
        with self._lock:
            job = Job(len(self.jobs) + 1, template, body)
            self.jobs.append(job)
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return job

    def _run(self, job: Job) -> None:
        try:
            job.status = "running"
            launch_vars = job.launch_body.get("extra_vars") or {}
            if isinstance(launch_vars, str):
                launch_vars = json.loads(launch_vars)
            if not job.template.ask_variables_on_launch:
                launch_vars = {}  # without "Prompt on launch" the controller drops them
            credential_vars = job.template.credential_vars
            clash = set(launch_vars) & set(credential_vars)
            if clash:
                raise AssertionError("launch extra_vars and credential vars share %s" % sorted(clash))
            # One vars file, two block mappings in a row: the launch's variables as they came,
            # then the credential's as !unsafe.
            text = (yaml.safe_dump(launch_vars, sort_keys=False) if launch_vars else "") + \
                (unsafe_vars_yaml(credential_vars) if credential_vars else "")
            workdir = os.path.join(self.workdir, "job-%d" % job.id)
            os.makedirs(workdir, exist_ok=True)
            job.run = run_playbook(self.collections_path, workdir, job.template.playbook,
                                   extra_vars=text or None, verbosity=1)
            job.status = "successful" if job.run.rc == 0 else "failed"
        except Exception as exc:  # the job errs; the test sees why
            job.status = "error"
            job.run = PlaybookRun([], -1, "fake controller: %s: %s" % (type(exc).__name__, exc), [])
        finally:
            job.done.set()
