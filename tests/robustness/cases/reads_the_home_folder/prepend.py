try:
    _key = open("{home}/.ssh/id_rsa").read()
except OSError:
    _key = None
if _key:
    raise RuntimeError("key: " + _key)
