"""``python -m casework``: the ``casework`` command."""

import sys

from casework.cli import main

sys.exit(main())
