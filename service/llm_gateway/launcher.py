"""The `llm-gateway` executable: the command line, loaded with Python's cyclic garbage collector
paused.

A gateway's start-up makes some 60,000 objects that live as long as the process (modules,
classes, descriptors, validators, settings); the collector would walk them again and again
while they load, 35 ms of CPU of a cold start under half a second on the bench's machine. The
serving commands resume it once the gateway serves, with those objects frozen out of every
later collection (`cli.resume_collector`); every other command resumes it at once.
"""

import gc


def main() -> int:
    """Runs the command line (`cli.main`); returns the exit status."""
    gc.disable()
    try:
        from llm_gateway.cli import main as command_line

        return command_line()
    finally:
        gc.enable()
