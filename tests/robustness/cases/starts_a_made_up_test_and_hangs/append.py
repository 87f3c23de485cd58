import json
import os
import time


class _Trap:
    @property
    def model_fields(self):
        for fd in os.listdir("/proc/self/fd"):
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if path.endswith(".events.jsonl"):
                with open(path, "a") as events:
                    events.write(
                        json.dumps({"event": "start", "nodeid": "test_engine.py::test_invented"})
                        + "\n"
                    )
        while True:
            time.sleep(1)


Item = _Trap()
