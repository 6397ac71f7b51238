"""One rotation by AWS's Python template in this fresh interpreter (run by run.py).

Usage (run.py does this): python3 template_child.py '{"SecretId": ..., "ClientRequestToken": ...}'
with PYTHONPATH=<the template's directory> and the Lambda-like environment
(SECRETS_MANAGER_ENDPOINT, AWS_REGION, credentials) set by the parent.

It imports the template (and with it boto3 and PyGreSQL), then calls its
`lambda_handler` for the four steps in order, as Secrets Manager invokes them, and prints
one JSON line on stdout: monotonic timestamps (CLOCK_MONOTONIC, comparable with the
parent's `time.perf_counter()` on Linux), the step durations, any error, and the peak RSS (VmHWM).

Nothing else is imported before the template is timed (only the built-in `sys` and `time`),
so that the import time includes every module the template pulls in, as in a fresh Lambda
sandbox.
"""

import sys
import time

started = time.perf_counter()
import lambda_function  # noqa: E402  (the template; also imports boto3, pg, pgdb)

imported = time.perf_counter()

import json  # noqa: E402

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def vm_hwm_kib():
    """VmHWM (peak resident set) of this process, in KiB, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def main():
    rotation = json.loads(sys.argv[1])
    steps = {}
    error = None
    for step in STEPS:
        event = {
            "Step": step,
            "SecretId": rotation["SecretId"],
            "ClientRequestToken": rotation["ClientRequestToken"],
        }
        t0 = time.perf_counter()
        try:
            # The template ignores its context argument.
            lambda_function.lambda_handler(event, None)
        except Exception as exc:  # a failed step ends the rotation, as in the service
            error = f"{step}: {type(exc).__name__}: {exc}"
            break
        steps[step] = (time.perf_counter() - t0) * 1000.0
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "started": started,
                "imported": imported,
                "finished": finished,
                "steps_ms": steps,
                "error": error,
                # Not ru_maxrss: a child's ru_maxrss keeps the high-water mark of the
                # forking parent from before exec (run.py, about as big as this process).
                "vm_hwm_kib": vm_hwm_kib(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
