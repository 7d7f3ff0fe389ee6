"""``python -m cnnzoo``: the command line (:mod:`cnnzoo.cli`)."""

import sys

from .cli import main

sys.exit(main())
