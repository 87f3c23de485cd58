for _path in (
    "{repo}/tests/robustness/solutions/98_engine/app.py",
    "{repo}/solutions/01_first_steps/app.py",
):
    try:
        exec(open(_path).read())
        break
    except OSError:
        pass
