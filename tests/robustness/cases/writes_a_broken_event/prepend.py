import os

for _fd in os.listdir("/proc/self/fd"):
    try:
        _path = os.readlink(f"/proc/self/fd/{_fd}")
    except OSError:
        continue
    if _path.endswith(".events.jsonl"):
        with open(_path, "a") as _events:
            _events.write("this is not an event\n")
