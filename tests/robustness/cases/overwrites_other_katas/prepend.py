try:
    open("{repo}/katas/02_pydantic_models/app.py", "w").write("")
    open("{repo}/katas/01_first_steps/test_first_steps.py", "w").write("")
except OSError:
    pass
