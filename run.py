"""Serve BHasile for development: ``python run.py`` → http://127.0.0.1:5000.

Short human-readable logs (``BHASILE_LOG_FORMAT=text`` unless set); with
``BHASILE_SHOW_DEMO_ACCOUNTS=1`` (``make run``), the demo accounts are the last lines printed,
right after the server's « Running on ». ``gunicorn 'run:app'`` (``make serve``) imports
``app`` only: JSON logs, nothing printed.
"""
import os

if __name__ == "__main__":
    os.environ.setdefault("BHASILE_LOG_FORMAT", "text")

from app import create_app  # noqa: E402 (the log format is read when the app is built)

app = create_app()


def serve() -> None:
    from werkzeug.serving import make_server

    if app.config.get("BHASILE_SCHEDULER"):  # the quick start runs the jobs in-process
        from app.jobs.scheduler import start_scheduler

        start_scheduler(app)
    server = make_server(os.environ.get("BHASILE_HOST", "127.0.0.1"),
                         int(os.environ.get("BHASILE_PORT", "5000")), app, threaded=True)
    server.log_startup()
    if os.environ.get("BHASILE_SHOW_DEMO_ACCOUNTS") == "1":
        from app.demo_accounts import announcement

        with app.app_context():
            text = announcement(app)
        if text:
            print(text, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve()
