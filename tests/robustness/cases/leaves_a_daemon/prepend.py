import os
import subprocess
import sys

if os.fork() == 0:
    os.setsid()
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)  # {token}"])
    os._exit(0)
