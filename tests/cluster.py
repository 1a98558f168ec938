"""Several BHasile « hosts » on one machine: an S3-compatible server on the loopback (moto's
standalone server), web instances (gunicorn, real processes on their own ports, their own
instance folders) and job workers (``flask bhasile worker``), all on one PostgreSQL database
and one bucket. Used by tests/test_multihost.py and benchmarks/bench_jobs.py."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import requests

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bhasile-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """moto's standalone S3 server on 127.0.0.1, with one bucket."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "S3Server":
        self.server.start()
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.stop()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def keys(self, prefix: str) -> list[str]:
        found = self.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(obj["Key"] for obj in found)

    def env(self, prefix: str) -> dict[str, str]:
        """The settings of a BHasile process storing its files in this server's bucket."""
        return {"BHASILE_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
                "BHASILE_S3_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def s3_config(server: S3Server, prefix: str) -> dict:
    """The same, as app settings (an app built in the test process)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return {"BHASILE_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
            "BHASILE_S3_ENDPOINT_URL": server.endpoint}


def base_env(database_url: str, tmp: Path, extra: Optional[dict] = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BHASILE_", "FLASK_"))}
    env.update({"DATABASE_URL": database_url.replace("postgresql+psycopg://", "postgresql://"),
                "SECRET_KEY": "m" * 40, "BHASILE_QUEUE": "postgresql", "BHASILE_LOG_FORMAT": "text",
                "BHASILE_WORKER_HEARTBEAT_SECONDS": "1", "BHASILE_WORKER_STALLED_SECONDS": "4",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


class Processes:
    """Started processes, stopped (their own ids only) at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.started = tmp, []

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.bhasile_name = name
        self.started.append(proc)
        return proc

    def web(self, name: str, env: dict) -> str:
        port = free_port()
        instance = self.tmp / name
        instance.mkdir(exist_ok=True)
        self.start(name, [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "4",
                          "--bind", f"127.0.0.1:{port}", "--timeout", "120", "run:app"],
                   {**env, "BHASILE_INSTANCE_DIR": str(instance)})
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/healthz", timeout=2).status_code < 500:
                    return url
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{name} did not start: {self.log(name)[-2000:]}")

    def worker(self, name: str, env: dict) -> subprocess.Popen:
        instance = self.tmp / name
        instance.mkdir(exist_ok=True)
        return self.start(name, [sys.executable, "-m", "flask", "bhasile", "worker", "-p", "1"],
                          {**env, "BHASILE_INSTANCE_DIR": str(instance)})

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Browser:
    """A signed-in agent on one or several instances (the session cookie works on all of them:
    they share the secret key and the database)."""

    def __init__(self, username: str, password: str, base: str) -> None:
        self.http = requests.Session()
        token = self.csrf(base + "/login/")
        response = self.http.post(base + "/login/", data={"username": username, "password": password,
                                                         "csrf_token": token})
        assert response.status_code in (200, 302), response.status_code

    def csrf(self, url: str) -> str:
        page = self.http.get(url, timeout=30).text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page)
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def get(self, url: str, **kwargs):
        return self.http.get(url, timeout=60, allow_redirects=False, **kwargs)

    def post(self, url: str, **kwargs):
        return self.http.post(url, timeout=120, allow_redirects=False, **kwargs)

    def request_export(self, base: str) -> int:
        """A full-workbook export in the background: the confirmation form, posted."""
        page = self.get(base + "/exporter/classeur.xlsx").text
        form = re.search(r'<form id="bh-export-confirm" method="post" action="([^"]+)"', page)
        assert form, "no confirmation form: is the export small enough to be immediate?"
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = self.post(base + form.group(1).replace("&amp;", "&"), data={"csrf_token": token})
        assert response.status_code == 302, response.status_code
        return int(re.search(r"/exporter/suivi/(\d+)/", response.headers["Location"]).group(1))

    def export_state(self, base: str, job_id: int) -> dict:
        return self.get(f"{base}/exporter/suivi/{job_id}/etat.json").json()

    def wait_export(self, base: str, job_id: int, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.export_state(base, job_id)
            if state["finished"]:
                return state
            time.sleep(0.1)
        raise AssertionError(f"export {job_id} not finished: {state}")

    def upload(self, base: str, data: bytes, filename: str) -> int:
        token = self.csrf(base + "/imports/")
        response = self.post(base + "/imports/envoyer", data={"csrf_token": token, "annee": ""},
                             files={"fichier": (filename, data)})
        assert response.status_code == 302, response.status_code
        return int(re.search(r"/imports/(\d+)/", response.headers["Location"]).group(1))

    def wait_batch(self, base: str, batch: int, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.get(f"{base}/imports/{batch}/etat.json").json()
            if state["finished"]:
                return state
            time.sleep(0.2)
        raise AssertionError(f"batch {batch} not finished: {state}")
