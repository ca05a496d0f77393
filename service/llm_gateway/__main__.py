"""`python -m llm_gateway` runs the command line."""

import sys

from llm_gateway.launcher import main

sys.exit(main())
