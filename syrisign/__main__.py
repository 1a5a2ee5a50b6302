import sys

from syrisign.cli import main

sys.exit(main())
