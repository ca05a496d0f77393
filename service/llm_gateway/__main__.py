"""`python -m llm_gateway` runs the command line."""

import sys

from llm_gateway.cli import main

sys.exit(main())
