# Kata 14 · Production — the production entry point: `python run.py`.

import uvicorn

from settings import get_settings


def main() -> None:
    """Serve app:app with Uvicorn on PROD_HOST:PROD_PORT, in PROD_WORKERS processes."""
    settings = get_settings()
    # An import string, not the app object: each worker process imports the app itself.
    uvicorn.run("app:app", host=settings.host, port=settings.port, workers=settings.workers)


if __name__ == "__main__":  # a spawned worker imports this file too: it must not start a server
    main()
