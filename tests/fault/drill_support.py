"""What the drill tests (drill_test.py, drill_mutants_test.py) share."""
import subprocess


def fail(message):
    """Prints a failed check; returns False for `ok = fail(...)`."""
    print("FAIL: " + message, flush=True)
    return False


def namespaces():
    """The network namespaces that exist now (to find any a test left behind)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def read_ack_log(path):
    """The acknowledgement log a drill wrote: (partition, offset, value) per line."""
    records = []
    with open(path, encoding="utf-8") as log:
        for line in log:
            parts = line.split()
            if parts:
                records.append((int(parts[0]), int(parts[1]), parts[2]) if len(parts) == 3
                               else None)
    return records
