import json
import os

_line = json.dumps({"event": "collect_error", "nodeid": "x", "text": "y" * 1000}) + "\n"
for _fd in os.listdir("/proc/self/fd"):
    try:
        _path = os.readlink(f"/proc/self/fd/{_fd}")
    except OSError:
        continue
    if _path.endswith(".events.jsonl"):
        with open(_path, "a") as _events:
            for _ in range(25_000):
                _events.write(_line)
