# Kata 14 · Production — the production entry point: `python run.py`.


def main() -> None:
    """TODO (task 4): serve app:app with Uvicorn on PROD_HOST:PROD_PORT, in PROD_WORKERS processes.

    Read the three from get_settings(). Run main() only when this file is run as a script.
    """
    raise NotImplementedError
