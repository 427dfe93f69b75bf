import sys

from qa.train.cli import main

sys.exit(main())
