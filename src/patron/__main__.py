"""Run ``python -m patron`` like the ``patron`` console script."""

import sys

from patron.cli import main

sys.exit(main())
