"""The `http` check type: the check (check.py) and its config (config.py), the lean HTTP/1.1
client (client.py, connection.py), the rules for reply heads and bodies (body.py), JSON
assertions (json_assert.py) and certificate dates (tlscert.py)."""
