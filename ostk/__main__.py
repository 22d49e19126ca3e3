"""``python -m ostk``."""
import sys

from ostk.cli import main

sys.exit(main())
