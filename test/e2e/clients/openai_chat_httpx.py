"""Posts one OpenAI chat completion with httpx over HTTP/2.

The plan arrives as one JSON line on stdin; the result leaves as one JSON line on stdout. The process then
stays alive until stdin closes, as a long-running application would, so the test decides when it exits.
"""
import json
import os
import sys

import httpx

plan = json.loads(sys.stdin.readline())
with httpx.Client(http2=True, verify=plan["caPath"]) as client:
    response = client.post(
        plan["url"],
        headers={"authorization": "Bearer " + plan["apiKey"], "content-type": "application/json"},
        content=json.dumps(plan["body"]),
    )
    print(json.dumps({"pid": os.getpid(), "httpVersion": response.http_version, "status": response.status_code, "body": response.json()}), flush=True)
    sys.stdin.read()
