"""`python -m brewslm_tui` is the same as the `brewslm-tui` command."""

import sys

from brewslm_tui.cli import main

sys.exit(main())
