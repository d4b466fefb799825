import sys

from innosim.cli import main

sys.exit(main())
