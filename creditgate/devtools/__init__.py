"""Developer tools: the ``creditgate`` command, the local stack, the demo, migrations."""
