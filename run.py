"""Serve BHasile for development: ``python run.py`` → http://127.0.0.1:5000."""
import os

from app import create_app

app = create_app()

if __name__ == "__main__":
    if app.config.get("BHASILE_SCHEDULER"):  # the quick start runs the jobs in-process
        from app.scheduler import start_scheduler

        start_scheduler(app)
    app.run(host=os.environ.get("BHASILE_HOST", "127.0.0.1"),
            port=int(os.environ.get("BHASILE_PORT", "5000")), debug=False)
