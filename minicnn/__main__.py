"""``python -m minicnn ...`` runs the ``minicnn`` command."""

import sys

from minicnn.cli import main

sys.exit(main())
