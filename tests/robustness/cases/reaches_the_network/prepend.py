import socket

for _address in (("127.0.0.1", {port}), ("1.1.1.1", 80)):
    try:
        socket.create_connection(_address, timeout=1).close()
    except OSError:
        pass
