"""``python -m al_bench.report OUTPUTS_DIR [--runs-dir DIR]``; see :mod:`al_bench.report.cli`."""

import sys

from .cli import main

sys.exit(main())
