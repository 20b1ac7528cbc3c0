"""``python -m hltpy``: the command line (see ``python -m hltpy --help``)."""

import sys

from hltpy._cli import main

sys.exit(main(sys.argv[1:]))
