"""Request loop the pools verifier runs on the proxy during a drain: GET URL with Host HOST until STOPFILE exists.

    python3 request_loop.py URL HOST OUTFILE STOPFILE

One line per request in OUTFILE: "<start epoch> <status> <first body line>" (status 0: no answer, with the error).
"""
import http.client
import os
import sys
import time
from urllib.parse import urlsplit


def main(url, host, outfile, stopfile):
    parts = urlsplit(url)
    with open(outfile, "w") as out:
        while not os.path.exists(stopfile):
            start = time.time()
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
                conn.request("GET", parts.path, headers={"Host": host})
                resp = conn.getresponse()
                status, body = resp.status, resp.read().decode("latin-1").split("\n")[0]
                conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, repr(exc).replace(" ", "_")
            out.write("%.3f %d %s\n" % (start, status, body or "-"))
            out.flush()
            time.sleep(0.02)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
