"""The `llm-gateway` executable: the command line, loaded with Python's cyclic garbage collector
paused.

A gateway's start-up makes some 95,000 objects that live as long as the process (modules,
classes, descriptors, validators, settings); the collector would walk them again and again
while they load: 75-95 ms of the start-up's CPU on the bench's machine (about 400 ms). The
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
